"""Multiview images (spec 13.1): one face from several yaws, as PNGs and as grids.

Views default to the official ones: yaw = pi/2 + {-0.5, -0.25, 0, 0.25, 0.5}, pitch = pi/2.
Frames come from the direct renderer (full quality, any options) or, with `bake_resolution`,
from a bake (fast, view locked).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from models.export.common import Cancel, Progress, baked_session, check_cancel
from models.field.codes import Codes
from models.field.generator import Generator
from models.io.images import save_image
from models.render.camera import FRONT
from models.render.options import RenderOptions, RenderResult

VIEW_OFFSETS = (-0.5, -0.25, 0.0, 0.25, 0.5)


def official_views(offsets: tuple[float, ...] = VIEW_OFFSETS, pitch: float = FRONT) -> list[tuple[float, float]]:
    """(yaw, pitch) pairs at yaw offsets (radians) from the frontal view."""
    return [(FRONT + o, pitch) for o in offsets]


def render_views(generator: Generator, codes: Codes, opts: RenderOptions,
                 views: list[tuple[float, float]] | None = None, bake_resolution: int | None = None,
                 progress: Progress | None = None, cancel: Cancel | None = None) -> list[RenderResult]:
    """Render one face (codes of batch 1) from each (yaw, pitch). progress(done, total) counts
    views; cancel() -> True raises ExportCancelled (between views, or during the bake)."""
    from models.render.renderer import render
    views = views or official_views()
    session = None if bake_resolution is None else baked_session(generator, codes, bake_resolution, cancel=cancel)
    results = []
    for i, (yaw, pitch) in enumerate(views):
        check_cancel(cancel)
        if session is None:
            results.append(render(generator, codes, yaw, pitch, opts))
        else:
            results.append(session.view(yaw, pitch, opts.img_size, opts))
        if progress is not None:
            progress(i + 1, len(views))
    return results


def grids(results: list[RenderResult]) -> tuple[np.ndarray, np.ndarray]:
    """The views side by side: RGB image and colour mask, each (R, R * views, 3) uint8."""
    return (np.concatenate([r.rgb_uint8() for r in results], 1),
            np.concatenate([r.mask_rgb() for r in results], 1))


def save_views(results: list[RenderResult], out_dir: str | Path, stem: str) -> list[Path]:
    """Write `<stem>_view<i>_image.png`, `_mask.png` (palette colours), `_mask_ids.png` (ids 0..18)
    per view and the grids `grid_<stem>_RGB.png`, `grid_<stem>_SEG.png` (official names)."""
    out = Path(out_dir)
    written = []
    for i, r in enumerate(results):
        written += [save_image(out / f"{stem}_view{i}_image.png", r.rgb_uint8()),
                    save_image(out / f"{stem}_view{i}_mask.png", r.mask_rgb()),
                    save_image(out / f"{stem}_view{i}_mask_ids.png", r.mask_ids())]
    rgb, seg = grids(results)
    written += [save_image(out / f"grid_{stem}_RGB.png", rgb), save_image(out / f"grid_{stem}_SEG.png", seg)]
    return written

