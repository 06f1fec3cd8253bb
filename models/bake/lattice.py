"""Evaluating one code's field on a regular lattice of points, restricted to a selection.

The lattice is walked one x-plane at a time. Each plane gets the geometry trunk and the density
at its selected vertices; the label and colour heads run only on vertices that can ever carry
weight in a render, i.e. the corners of cells with at least one positive-density corner (a sample
in any other cell has interpolated density <= 0 and so zero weight). That test needs the densities
of the neighbouring planes, so each plane's trunk features wait one plane before the heads run.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from models.field.generator import locked_directions
from models.labels import NUM_SEMANTIC
from models.render.field_views import FoldedField

CHANNELS = NUM_SEMANTIC + 3     # 18 label logits, RGB in (0, 1)
EMPTY_DENSITY = 0.0             # density stored at vertices that were not evaluated (empty space)

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]


class BakeCancelled(Exception):
    """Raised inside a bake when its cancel callback returns True."""


def lattice_points(origin: torch.Tensor, spacing: float, index: torch.Tensor) -> torch.Tensor:
    """World positions (n, 3) of integer lattice indices (n, 3)."""
    return origin + index.to(origin.dtype) * spacing


def _in_chunks(fn, x: torch.Tensor, chunk: int) -> torch.Tensor:
    return torch.cat([fn(x[i:i + chunk]) for i in range(0, x.shape[0], chunk)]) if x.shape[0] else fn(x)


@torch.no_grad()
def sample_density(field: FoldedField, points: torch.Tensor, chunk: int = 16384) -> torch.Tensor:
    """Raw density (n,) of a folded field at world points (n, 3), trunk only."""
    def run(p):
        return field.density(field.geometry_features(field.warp(p[None])))[0, :, 0]
    return _in_chunks(run, points, chunk)


@torch.no_grad()
def sample_heads(field: FoldedField, points: torch.Tensor, features: torch.Tensor | None = None,
                 chunk: int = 16384) -> torch.Tensor:
    """[18 label logits, RGB] (n, 21) at world points (n, 3) with the locked view direction.
    Pass the trunk features when they are already known."""
    out = []
    for i in range(0, points.shape[0], chunk):
        q = field.warp(points[None, i:i + chunk])
        f = field.geometry_features(q) if features is None else features[None, i:i + chunk]
        out.append(torch.cat([field.label_logits(f), field.color(f, q, locked_directions(q))], -1)[0])
    return torch.cat(out) if out else points.new_zeros(0, CHANNELS)


class _Plane:
    """Trunk results of one x-plane waiting for its neighbours' densities."""

    def __init__(self, flat_index: torch.Tensor, points: torch.Tensor, features: torch.Tensor):
        self.flat_index, self.points, self.features = flat_index, points, features


@torch.no_grad()
def evaluate_lattice(field: FoldedField, origin: torch.Tensor, spacing: float, select: torch.Tensor,
                     progress: Progress | None = None, cancel: Cancel | None = None,
                     with_heads: bool = True, chunk: int = 16384
                     ) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """Density (X, Y, Z) float32 and heads (X, Y, Z, 21) float32 of `field` at the vertices
    origin + spacing * (i, j, k) selected by the boolean `select` (X, Y, Z). Unselected vertices
    hold EMPTY_DENSITY and zero heads; so do heads of vertices no render can weight.
    Returns (density, heads or None without heads, number of head evaluations)."""
    nx, ny, nz = select.shape
    density = torch.full((nx, ny, nz), EMPTY_DENSITY)
    heads = torch.zeros(nx, ny, nz, CHANNELS) if with_heads else None
    yz = torch.stack(torch.meshgrid(torch.arange(ny), torch.arange(nz), indexing="ij"), -1).reshape(-1, 2)
    pending: dict[int, _Plane] = {}
    head_count = 0

    def finish(x: int) -> int:
        plane = pending.pop(x)
        if heads is None or plane.flat_index.numel() == 0:
            return 0
        positive = (density[max(0, x - 1):x + 2] > 0).any(0).float()[None, None]
        needed = F.max_pool2d(positive, 3, stride=1, padding=1)[0, 0].reshape(-1) > 0
        keep = needed[plane.flat_index]
        if not keep.any():
            return 0
        idx = plane.flat_index[keep]
        heads[x].view(-1, CHANNELS)[idx] = sample_heads(field, plane.points[keep], plane.features[keep], chunk)
        return int(idx.numel())

    for x in range(nx):
        if cancel is not None and cancel():
            raise BakeCancelled("bake cancelled")
        flat = torch.nonzero(select[x].reshape(-1)).squeeze(-1)
        index = torch.cat([torch.full((flat.numel(), 1), x), yz[flat]], -1)
        points = lattice_points(origin, spacing, index)
        features = None
        if flat.numel():            # a plane may hold no selected vertex at all
            features = _in_chunks(lambda p: field.geometry_features(field.warp(p[None]))[0], points, chunk)
            density[x].view(-1)[flat] = field.density(features)[:, 0]
        if not with_heads:
            features = points = None
        pending[x] = _Plane(flat, points, features)
        if x >= 1:
            head_count += finish(x - 1)
        if progress is not None:
            progress(x + 1, nx)
    head_count += finish(nx - 1)
    return density, heads, head_count
