"""Interpolation and orbit videos (spec 12.6, 13.2): frames [RGB | colour mask | JET depth].

Trajectories (pitch, yaw over t):
* front: pi/2 + 0.2 cos(2 pi t), pi/2 + 0.4 sin(2 pi t), t in [0, 1] (fov fixed);
* orbit: pi/2, 2 pi t, t in [0, 0.5] (from the right side round to the left);
* yaw_sweep: pi/2, pi/2 + 0.5 t, t in [-1, 1].
Latents: `none` keeps the face fixed (frames come from one bake: fast, view locked); `geo`, `app`
and `both` move geometry, appearance or both linearly from the first code to the second over the
video (u = frame / (frames - 1)), rendered directly frame by frame. Unlike the official script,
`app` interpolates (no extrapolation to 2 a1 - a2). Colours map from [-1, 1] to [0, 255] directly
and depth through uint8(depth / 2 * 255) and JET, with no per-frame normalisation (no flicker).
Output: H.264 mp4 (imageio-ffmpeg's bundled ffmpeg, yuv420p, so sides are padded to even) and GIF.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from models.export.common import Cancel, Progress, baked_session, check_cancel
from models.field.codes import Codes
from models.field.generator import Generator
from models.io.atomic import atomic_path
from models.render.camera import FRONT
from models.render.options import RenderOptions, RenderResult

TRAJECTORIES = ("front", "orbit", "yaw_sweep")
LATENTS = ("none", "geo", "app", "both")
DEFAULT_FPS = 25
MP4_QUALITY = 8


def trajectory(name: str, frames: int) -> list[tuple[float, float]]:
    """(yaw, pitch) per frame for a named trajectory."""
    if frames < 1:
        raise ValueError(f"a video needs at least one frame, got {frames}")
    if name == "front":
        ts = np.linspace(0, 1, frames)
        return [(FRONT + 0.4 * math.sin(2 * math.pi * t), FRONT + 0.2 * math.cos(2 * math.pi * t)) for t in ts]
    if name == "orbit":
        return [(2 * math.pi * t, FRONT) for t in np.linspace(0, 0.5, frames)]
    if name == "yaw_sweep":
        return [(FRONT + 0.5 * t, FRONT) for t in np.linspace(-1, 1, frames)]
    raise ValueError(f"unknown trajectory {name!r}; choose from {', '.join(TRAJECTORIES)}")


def interpolate(first: Codes, second: Codes, latent: str, u: float) -> Codes:
    """The codes at fraction u of the way from `first` to `second` for a latent mode."""
    if latent not in LATENTS:
        raise ValueError(f"unknown latent mode {latent!r}; choose from {', '.join(LATENTS)}")
    if latent == "none":
        return first
    return first.lerp(second, u, geometry=latent in ("geo", "both"), appearance=latent in ("app", "both"))


def frame_image(result: RenderResult) -> np.ndarray:
    """[RGB | colour mask | JET depth] uint8 (R, 3R, 3)."""
    from models.io.images import depth_to_color, hstack
    depth = depth_to_color(result.depth_array(), result.opacity[0].float().numpy())
    return hstack([result.rgb_uint8(), result.mask_rgb(), depth])


def render_frames(generator: Generator, first: Codes, second: Codes | None, latent: str, camera_path: str,
                  frames: int, opts: RenderOptions, bake_resolution: int = 128,
                  progress: Progress | None = None, cancel: Cancel | None = None) -> list[np.ndarray]:
    """The frames of a video along the trajectory named `camera_path`. `second` is needed unless
    latent is `none`. progress(done, total)
    counts frames (after the bake, for `none`); cancel() -> True raises ExportCancelled."""
    poses = trajectory(camera_path, frames)
    if latent != "none" and second is None:
        raise ValueError(f"latent mode {latent!r} interpolates between two faces: give a second code")
    session = baked_session(generator, first, bake_resolution, cancel=cancel) if latent == "none" else None
    from models.render.renderer import render
    images = []
    for i, (yaw, pitch) in enumerate(poses):
        check_cancel(cancel)
        if session is not None:
            result = session.view(yaw, pitch, opts.img_size, opts)
        else:
            u = i / (frames - 1) if frames > 1 else 0.0
            result = render(generator, interpolate(first, second, latent, u), yaw, pitch, opts)
        images.append(frame_image(result))
        if progress is not None:
            progress(i + 1, frames)
    return images


def _even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0))) if h % 2 or w % 2 else frame


def save_mp4(path: str | Path, frames: list[np.ndarray], fps: int = DEFAULT_FPS) -> Path:
    """H.264 mp4 (yuv420p; odd sides padded by one black pixel), written atomically."""
    import imageio_ffmpeg
    if not frames:
        raise ValueError("no frames to write")
    path = Path(path)
    first = _even(frames[0])
    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(str(tmp), (first.shape[1], first.shape[0]), fps=fps,
                                             codec="libx264", quality=MP4_QUALITY, macro_block_size=1,
                                             output_params=["-f", "mp4"])
        writer.send(None)
        try:
            for frame in frames:
                writer.send(np.ascontiguousarray(_even(frame)))
        finally:
            writer.close()
    return path


def save_gif(path: str | Path, frames: list[np.ndarray], fps: int = DEFAULT_FPS) -> Path:
    """Looping GIF, written atomically."""
    from PIL import Image
    if not frames:
        raise ValueError("no frames to write")
    path = Path(path)
    images = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=round(1000 / fps), loop=0)
    return path
