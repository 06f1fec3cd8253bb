"""Export requests of the app and the worker functions that run them through `models/export`."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fenerf_app.errors import NotAvailableError
from fenerf_app.jobs import optional, render_defaults_options
from fenerf_app.workers import Cancelled, JobContext
from models.field.codes import Codes

DEFAULT_TRAJECTORIES = ("front", "orbit", "yaw_sweep")


@dataclass(frozen=True)
class MultiviewOptions:
    out: Path                                       # folder
    yaw_offsets: tuple[float, ...] = (-0.5, -0.25, 0.0, 0.25, 0.5)
    size: int = 256
    steps: int = 24


@dataclass(frozen=True)
class VideoOptions:
    out: Path                                       # .mp4 or .gif
    trajectory: str = "front"
    frames: int = 60
    size: int = 128
    steps: int = 24
    fps: int = 25
    bake_resolution: int = 128                      # frames come from one bake of the face


@dataclass(frozen=True)
class MeshOptions:
    out: Path                                       # .ply, .obj or .glb
    resolution: int = 128
    level: float = 10.0
    colour: str = "labels"                          # "labels" or "rgb"


def trajectories() -> tuple[str, ...]:
    """The camera paths the video export knows."""
    try:
        return tuple(optional("models.export.video", "video export").TRAJECTORIES)
    except NotAvailableError:
        return DEFAULT_TRAJECTORIES


def _hooks(ctx: JobContext, text: str):
    """progress(done, total) and cancel() callbacks for the core's export functions."""
    return (lambda done, total: ctx.progress(done, total, text, check=False)), (lambda: ctx.cancelled)


@contextmanager
def _cancellable():
    """The core's ExportCancelled / BakeCancelled become the worker's Cancelled."""
    common = optional("models.export.common", "exporting")
    lattice = optional("models.bake.lattice", "exporting")
    try:
        yield
    except (common.ExportCancelled, lattice.BakeCancelled):
        raise Cancelled() from None


def multiview_job(generator, defaults: dict, codes: Codes, options: MultiviewOptions, ctx: JobContext) -> Path:
    """Images, masks and grids of the face from several yaws, into a folder."""
    multiview = optional("models.export.multiview", "multiview export")
    opts = render_defaults_options(defaults, options.size, options.steps)
    progress, cancel = _hooks(ctx, "rendering views")
    with _cancellable():
        results = multiview.render_views(generator, codes, opts, multiview.official_views(options.yaw_offsets),
                                         progress=progress, cancel=cancel)
    multiview.save_views(results, options.out, "portrait")
    return options.out


def video_job(generator, defaults: dict, codes: Codes, options: VideoOptions, ctx: JobContext) -> Path:
    """A video of the face along a camera path ([RGB | mask | depth] frames), mp4 or GIF by suffix."""
    video = optional("models.export.video", "video export")
    suffix = options.out.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ValueError(f"{options.out}: choose a .mp4 or .gif file name for the video")
    opts = render_defaults_options(defaults, options.size, options.steps)
    progress, cancel = _hooks(ctx, "rendering frames")
    with _cancellable():
        ctx.progress(0, options.frames, "baking the face", check=False)
        frames = video.render_frames(generator, codes, None, "none", options.trajectory, options.frames,
                                     opts, options.bake_resolution, progress, cancel)
    ctx.progress(options.frames, options.frames, "writing the file", check=False)
    save = video.save_mp4 if suffix == ".mp4" else video.save_gif
    return save(options.out, frames, options.fps)


def mesh_job(generator, defaults: dict, codes: Codes, options: MeshOptions, ctx: JobContext) -> Path:
    """Marching cubes on the face's density, vertices coloured by label or by RGB."""
    mesh_module = optional("models.export.mesh", "mesh export")
    from models.render.field_views import FoldedField
    if options.colour not in ("labels", "rgb"):
        raise ValueError(f"unknown mesh colouring {options.colour!r}; use labels or rgb")
    field = FoldedField(generator, codes, lock_view=True)
    progress, cancel = _hooks(ctx, "sampling the density")
    with _cancellable():
        mesh, _grid = mesh_module.face_mesh(field, options.resolution, options.level, progress=progress,
                                            cancel=cancel)
    ctx.progress(1, 1, "writing the file", check=False)
    colours = mesh.rgb if options.colour == "rgb" else mesh.label_rgb()
    return mesh_module.save_mesh(options.out, mesh, colours)
