"""`OrbitSession`: the viewport's engine. Bake a code pair once, then render any view in milliseconds.

Typical use from the app (a worker thread bakes, the UI thread renders):

    session = OrbitSession(generator, codes)               # codes: one face (batch 1)
    # worker thread:
    session.refine(levels=(32, 64, 128), progress=report, cancel=lambda: stop_flag,
                   on_level=lambda res: request_repaint())  # BakeCancelled when stopped
    # UI thread, on every camera change (cheap once a level is ready):
    if session.ready:
        result = session.frame(camera, size=128)            # a RenderResult, as from `render`

The first level (32^3) is ready within a fraction of a second on the demo model and gives a rough
first frame at once; later levels replace it when they finish. A cancelled refinement keeps the
last finished level. Swapping levels is a single reference assignment, so `frame` may run while
`refine` works in another thread.
"""
from __future__ import annotations

from typing import Callable

import torch

from models.bake.camera import OrbitCamera
from models.bake.lattice import Cancel, Progress
from models.bake.march import MarchGrid, march
from models.bake.volume import DEFAULT_EXTENT, BakedVolume, CoarseOccupancy, bake, coarse_occupancy
from models.field.codes import Codes
from models.field.generator import Generator
from models.render.field_views import FoldedField
from models.render.options import RenderOptions, RenderResult

DEFAULT_LEVELS = (32, 64, 128)


class OrbitSession:
    """Baked, view-locked rendering of one face (geometry + appearance code).

    reuse_geometry_from: an earlier session whose geometry codes are identical (e.g. after an
    appearance-only edit) lends its coarse occupancy pass."""

    def __init__(self, generator: Generator, codes: Codes, extent: float = DEFAULT_EXTENT,
                 budget: int | None = None, reuse_geometry_from: "OrbitSession | None" = None):
        if codes.batch != 1:
            raise ValueError(f"an OrbitSession renders one face; got a batch of {codes.batch} codes")
        self.codes = codes.detach()
        self.extent, self.budget = extent, budget
        self.field = FoldedField(generator, self.codes, lock_view=True)
        self._occupancy: CoarseOccupancy | None = None
        if reuse_geometry_from is not None and reuse_geometry_from.extent == extent and \
                torch.equal(reuse_geometry_from.codes.geo_freq, self.codes.geo_freq) and \
                torch.equal(reuse_geometry_from.codes.geo_phase, self.codes.geo_phase):
            self._occupancy = reuse_geometry_from._occupancy
        self._grid: MarchGrid | None = None

    @property
    def ready(self) -> bool:
        """True once a bake is available to `frame`."""
        return self._grid is not None

    @property
    def resolution(self) -> int | None:
        """Resolution of the bake `frame` uses now (None before the first)."""
        grid = self._grid
        return None if grid is None else grid.volume.resolution

    @property
    def volume(self) -> BakedVolume | None:
        grid = self._grid
        return None if grid is None else grid.volume

    def occupancy(self) -> CoarseOccupancy:
        """The coarse density pass of this geometry (computed on first use)."""
        if self._occupancy is None:
            self._occupancy = coarse_occupancy(self.field, self.extent)
        return self._occupancy

    def bake(self, resolution: int = 128, progress: Progress | None = None, cancel: Cancel | None = None
             ) -> BakedVolume:
        """Bake at `resolution` cells per side and make it the one `frame` uses. Blocking: call it
        from a worker thread. progress(done, total) per grid plane; cancel() -> True raises
        BakeCancelled (the previous bake stays in use); BakeBudgetError if it would not fit memory."""
        volume = bake(self.field, resolution, self.occupancy(), self.extent, self.budget, progress, cancel)
        self._grid = MarchGrid(volume)
        return volume

    def refine(self, levels: tuple[int, ...] = DEFAULT_LEVELS, progress: Progress | None = None,
               cancel: Cancel | None = None, on_level: Callable[[int], None] | None = None) -> None:
        """Bake each resolution in `levels` in turn (skipping any not above the current one),
        calling on_level(resolution) as each becomes the one `frame` uses. progress(done, total)
        counts grid planes over all levels."""
        todo = [r for r in levels if self.resolution is None or r > self.resolution]
        total = sum(r + 1 for r in todo)
        done = 0
        for res in todo:
            step = None if progress is None else (lambda d, _t, base=done: progress(base + d, total))
            self.bake(res, step, cancel)
            done += res + 1
            if progress is not None:
                progress(done, total)
            if on_level is not None:
                on_level(res)

    def frame(self, camera: OrbitCamera | None = None, size: int = 128,
              options: RenderOptions | None = None) -> RenderResult:
        """Render the current bake from `camera` (default: frontal, fov 12) at size x size pixels.
        `options` sets the sampling (num_steps, ray range, fill colour); img_size and fov come
        from size and the camera. Raises RuntimeError before the first bake."""
        camera = camera or OrbitCamera()
        return self.view(camera.yaw, camera.pitch, size, camera.render_options(options or RenderOptions()))

    def view(self, yaw: float, pitch: float, size: int = 128, options: RenderOptions | None = None
             ) -> RenderResult:
        """Render the current bake from any (yaw, pitch) in radians, no camera limits; fov from
        `options` (default 12). Raises RuntimeError before the first bake."""
        grid = self._grid
        if grid is None:
            raise RuntimeError("OrbitSession: no bake has finished yet")
        return march(grid, yaw, pitch, (options or RenderOptions()).replace(img_size=size, lock_view=True))
