"""The baked volume: one code pair's field sampled once on a grid, for fast re-rendering.

A bake evaluates the field with the view direction locked (spec 4.4) on the vertices of a regular
grid over the cube [-extent, extent]^3 with `resolution` cells per side:
1. a coarse density pass (32 cells per side) finds the cells that may hold positive density
   (see `coarse_occupancy`), dilated by one cell; it depends on the geometry code only;
2. the grid is stored densely over the bounding box of the occupied coarse cells only, and only
   vertices inside occupied coarse cells are evaluated (the rest is empty: density 0);
3. heads (18 label logits, RGB) are evaluated where a render can weight them (see `lattice`).
Everything is float32: the CPU trilinear sampler the marcher uses has no fast float16 path.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from models.bake.lattice import CHANNELS, Cancel, Progress, evaluate_lattice, lattice_points, sample_density
from models.render.field_views import FoldedField

DEFAULT_EXTENT = 0.2        # half-side of the baked cube: every sample of a fov-12 render lies within 0.197
COARSE_CELLS = 32
OCCUPANCY_SLACK = 0.5    # measured: no positive vertex missed at 64^3 on the fixtures and the demo model
MIN_RESOLUTION, MAX_RESOLUTION = 16, 1024
BYTES_PER_VERTEX = 4 * (1 + CHANNELS) + 8    # float32 density and heads, plus the marcher's density atlas
DEFAULT_BUDGET_FRACTION = 0.5
MAX_DEFAULT_BUDGET = 8 << 30


class BakeBudgetError(ValueError):
    """The requested bake does not fit the memory budget."""


@dataclass
class CoarseOccupancy:
    """The coarse density pass over [-extent, extent]^3: raw density at the (C+1)^3 vertices and
    the occupied cells (C, C, C)."""

    density: torch.Tensor
    cells: torch.Tensor
    extent: float

    @property
    def empty(self) -> bool:
        return not bool(self.cells.any())

    def bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """World-space corners (lo, hi) of the occupied cells' bounding box."""
        occupied = torch.nonzero(self.cells)
        size = 2 * self.extent / self.cells.shape[0]
        return occupied.min(0).values * size - self.extent, (occupied.max(0).values + 1) * size - self.extent


@torch.no_grad()
def coarse_occupancy(field: FoldedField, extent: float = DEFAULT_EXTENT, cells: int = COARSE_CELLS,
                     dilation: int = 1) -> CoarseOccupancy:
    """Sample the density on the (cells + 1)^3 vertices of the cube and mark the cells that may
    hold positive density: max + OCCUPANCY_SLACK * (max - min) of the corner densities > 0 (the
    field can peak between vertices about as much as it varies across them); dilate by `dilation`."""
    axis = torch.linspace(-extent, extent, cells + 1)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    density = sample_density(field, grid).reshape(*(cells + 1,) * 3)
    high = F.max_pool3d(density[None, None], 2, stride=1)
    low = -F.max_pool3d(-density[None, None], 2, stride=1)
    occupied = (high + OCCUPANCY_SLACK * (high - low) > 0).float()
    if dilation:
        occupied = F.max_pool3d(occupied, 2 * dilation + 1, stride=1, padding=dilation)
    return CoarseOccupancy(density, occupied[0, 0] > 0, extent)


@dataclass
class BakedVolume:
    """Field values on the vertices origin + spacing * (i, j, k) (i along world x, slowest).

    density: (X, Y, Z) raw density (pre-ReLU); heads: (X, Y, Z, 21) = 18 label logits, RGB in (0, 1),
    locked view. `resolution` cells span the full cube of half-side `extent`; the stored box is the
    occupied part of it. An empty volume (nothing occupied) has shape (0, 0, 0)."""

    density: torch.Tensor
    heads: torch.Tensor
    origin: torch.Tensor
    spacing: float
    resolution: int
    extent: float
    stats: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.density.shape)

    @property
    def empty(self) -> bool:
        return self.density.numel() == 0

    @property
    def nbytes(self) -> int:
        return self.density.numel() * self.density.element_size() + self.heads.numel() * self.heads.element_size()

    def bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """World-space corners (lo, hi) of the stored box."""
        return self.origin, self.origin + (torch.tensor(self.shape, dtype=torch.float32) - 1) * self.spacing


def available_memory() -> int:
    """Bytes of memory available to this process now (MemAvailable on Linux)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def default_budget() -> int:
    """Half the available memory, at most 8 GiB."""
    return min(int(available_memory() * DEFAULT_BUDGET_FRACTION), MAX_DEFAULT_BUDGET)


def _vertex_range(lo: torch.Tensor, hi: torch.Tensor, extent: float, spacing: float, resolution: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """First and last fine vertex index (per axis) covering the world box [lo, hi]."""
    first = torch.floor((lo + extent) / spacing + 1e-6).long().clamp(0, resolution)
    last = torch.ceil((hi + extent) / spacing - 1e-6).long().clamp(0, resolution)
    return first, torch.maximum(last, first + 1).clamp(max=resolution)


def bake_bytes(shape: tuple[int, int, int], hidden_dim: int) -> int:
    """Memory a bake of this stored shape needs: the volume, the marcher's copy of the density and
    the trunk features of the planes in flight."""
    x, y, z = shape
    return x * y * z * BYTES_PER_VERTEX + 3 * y * z * (hidden_dim + 8) * 4


def check_budget(shape: tuple[int, int, int], resolution: int, hidden_dim: int, budget: int) -> None:
    """Raise BakeBudgetError naming the largest resolution that fits when the bake does not."""
    need = bake_bytes(shape, hidden_dim)
    if need <= budget:
        return
    fits = int(resolution * (budget / need) ** (1 / 3))
    hint = f"choose a resolution of at most {fits}" if fits >= MIN_RESOLUTION else "free some memory"
    raise BakeBudgetError(f"a {resolution}^3 bake needs {need / 2**30:.2f} GiB for its occupied box of "
                          f"{shape[0]}x{shape[1]}x{shape[2]} vertices, over the memory budget of "
                          f"{budget / 2**30:.2f} GiB; {hint}")


def occupied_selection(occupancy: CoarseOccupancy, first: torch.Tensor, shape: tuple[int, int, int],
                       spacing: float) -> torch.Tensor:
    """Which vertices of the lattice with `shape` vertices, spacing `spacing` and first vertex
    index `first` (per axis, counted from the cube's corner -extent) lie in (or on the boundary
    of) an occupied coarse cell."""
    cells = occupancy.cells
    c = cells.shape[0]
    coarse_size = 2 * occupancy.extent / c

    def candidates(axis: int) -> list[torch.Tensor]:
        pos = (first[axis] + torch.arange(shape[axis])) * spacing / coarse_size
        return [torch.floor(pos - 1e-6).long().clamp(0, c - 1), torch.floor(pos + 1e-6).long().clamp(0, c - 1)]

    select = torch.zeros(shape, dtype=torch.bool)
    for ix in candidates(0):
        for iy in candidates(1):
            for iz in candidates(2):
                select |= cells[ix][:, iy][:, :, iz]
    return select


@torch.no_grad()
def bake(field: FoldedField, resolution: int = 128, occupancy: CoarseOccupancy | None = None,
         extent: float = DEFAULT_EXTENT, budget: int | None = None, progress: Progress | None = None,
         cancel: Cancel | None = None) -> BakedVolume:
    """Bake a folded, view-locked field (`FoldedField(gen, codes, lock_view=True)`).

    resolution: cells per side of the cube (64 quick, 128+ for detail). occupancy: a coarse pass
    of the same geometry to reuse (computed when None). budget: bytes (default: half the available
    memory, at most 8 GiB); BakeBudgetError if the stored box would not fit. progress(done, total)
    is called per plane; cancel() returning True raises BakeCancelled."""
    if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise ValueError(f"bake resolution {resolution} is outside [{MIN_RESOLUTION}, {MAX_RESOLUTION}]")
    if occupancy is None:
        occupancy = coarse_occupancy(field, extent)
    elif occupancy.extent != extent:
        raise ValueError(f"the coarse pass covers a cube of half-side {occupancy.extent}, the bake {extent}")
    spacing = 2 * extent / resolution
    if occupancy.empty:
        return BakedVolume(torch.zeros(0, 0, 0), torch.zeros(0, 0, 0, CHANNELS), torch.zeros(3), spacing,
                           resolution, extent, {"evaluated": 0, "heads": 0})
    first, last = _vertex_range(*occupancy.bounds(), extent, spacing, resolution)
    shape = tuple(int(v) for v in last - first + 1)
    hidden = field.trunk[-1][0].shape[0]
    check_budget(shape, resolution, hidden, default_budget() if budget is None else budget)
    select = occupied_selection(occupancy, first, shape, spacing)
    origin = lattice_points(torch.full((3,), -extent), spacing, first[None])[0]
    density, heads, head_count = evaluate_lattice(field, origin, spacing, select, progress, cancel)
    stats = {"evaluated": int(select.sum()), "heads": head_count, "vertices": math.prod(shape)}
    return BakedVolume(density, heads, origin, spacing, resolution, extent, stats)
