"""Empty-space skipping: a coarse occupancy grid of the density field for one code.

The density is sampled on the vertices of a regular grid around the head; a cell is occupied when
the largest of its corner densities plus half their spread is positive (so density that peaks
between positive-free corners is kept), and the occupied set is dilated by `dilation` cells so thin
structures between vertices are not lost. Samples that fall in empty cells are known to contribute
nothing and are never sent through the network. The grid depends only on the code, so it is
computed once and reused for every camera pose.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

DEFAULT_RESOLUTION = 64
DEFAULT_EXTENT = 0.2      # half-side of the cube in world units; camera samples lie within ~0.17


class OccupancyGrid:
    """Boolean occupancy of cells of the cube [-extent, extent]^3; outside the cube counts as occupied."""

    @torch.no_grad()
    def __init__(self, field, resolution: int = DEFAULT_RESOLUTION, extent: float = DEFAULT_EXTENT,
                 dilation: int = 1, chunk: int = 8192):
        self.resolution, self.extent = resolution, extent
        axis = torch.linspace(-extent, extent, resolution + 1)
        grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
        sigma = torch.cat([field.density(field.geometry_features(field.warp(grid[i:i + chunk][None])))[0, :, 0]
                           for i in range(0, grid.shape[0], chunk)])
        corners = sigma.reshape(1, 1, *(resolution + 1,) * 3)
        high, low = F.max_pool3d(corners, 2, stride=1), -F.max_pool3d(-corners, 2, stride=1)
        # a cell may hold positive density when its corners, extrapolated by half their spread, reach 0
        occupied = ((high + 0.5 * (high - low)) > 0).float()
        if dilation:
            occupied = F.max_pool3d(occupied, 2 * dilation + 1, stride=1, padding=dilation)
        self.cells = occupied[0, 0] > 0
        self.fraction = float(self.cells.float().mean())

    def contains(self, points: torch.Tensor) -> torch.Tensor:
        """Which points (..., 3) may have density (in an occupied cell or outside the grid)."""
        scaled = (points + self.extent) / (2 * self.extent) * self.resolution
        idx = scaled.floor().long()
        inside = ((idx >= 0) & (idx < self.resolution)).all(-1)
        idx = idx.clamp(0, self.resolution - 1)
        return ~inside | self.cells[idx[..., 0], idx[..., 1], idx[..., 2]]
