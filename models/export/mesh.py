"""Coloured meshes of a face (spec 13.3, "recommended mesh export"): marching cubes on the density.

1. Density on a regular grid of `resolution`^3 vertices over a cube of side `cube_size` centred at
   the origin (default 256^3 over 0.3, the official shape tool's grid; index [i, j, k] = (x_i, y_j,
   z_k)). A coarse pass finds the occupied region first; vertices outside it are filled by
   interpolating the coarse pass (all <= 0, so below any positive level) unless `exact`.
2. `skimage.measure.marching_cubes` at `level` (raw density; 10 by default), vertices scaled back
   to world units.
3. Vertex colours from the RGB head (appearance code, locked view) and labels from the argmax of
   the 18 label logits (ids 1..18), coloured with the official palette for the label mesh.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.bake.lattice import BakeCancelled, Cancel, Progress, evaluate_lattice, sample_heads
from models.bake.volume import BakeBudgetError, coarse_occupancy, default_budget, occupied_selection
from models.export.common import ExportCancelled
from models.io.atomic import atomic_path
from models.labels import NAMES, NUM_SEMANTIC, PALETTE
from models.render.field_views import FoldedField

DEFAULT_RESOLUTION = 256
DEFAULT_CUBE = 0.3
DEFAULT_LEVEL = 10.0
MESH_FORMATS = ("ply", "glb", "obj")


class MeshError(ValueError):
    """No mesh can be made with these settings."""


@dataclass
class DensityGrid:
    """Raw density (R, R, R) float32 at origin + spacing * (i, j, k)."""

    density: np.ndarray
    origin: float
    spacing: float


@dataclass
class ColouredMesh:
    """Triangles with per-vertex RGB (from the colour head) and label ids 1..18."""

    vertices: np.ndarray     # (V, 3) float32, world units
    faces: np.ndarray        # (F, 3) int64
    rgb: np.ndarray          # (V, 3) uint8
    labels: np.ndarray       # (V,) uint8

    def label_rgb(self) -> np.ndarray:
        """Vertex colours of the label mesh (official palette)."""
        return PALETTE[self.labels]


@torch.no_grad()
def density_grid(field: FoldedField, resolution: int = DEFAULT_RESOLUTION, cube_size: float = DEFAULT_CUBE,
                 exact: bool = False, progress: Progress | None = None, cancel: Cancel | None = None
                 ) -> DensityGrid:
    """Sample the raw density of a folded field on resolution^3 vertices spanning the cube.
    progress(done, total) per plane; cancel() -> True raises ExportCancelled."""
    if resolution < 8:
        raise MeshError(f"mesh resolution {resolution} is too small (at least 8)")
    need = resolution ** 3 * 6
    if need > default_budget():
        raise BakeBudgetError(f"a {resolution}^3 density grid needs {need / 2**30:.2f} GiB, over the memory "
                              f"budget of {default_budget() / 2**30:.2f} GiB; choose a smaller resolution")
    half = cube_size / 2
    spacing = cube_size / (resolution - 1)
    shape = (resolution,) * 3
    occupancy = None if exact else coarse_occupancy(field, half)
    select = torch.ones(shape, dtype=torch.bool) if occupancy is None else \
        occupied_selection(occupancy, torch.zeros(3, dtype=torch.long), shape, spacing)
    try:
        density, _, _ = evaluate_lattice(field, torch.full((3,), -half), spacing, select, progress, cancel,
                                         with_heads=False)
    except BakeCancelled as exc:
        raise ExportCancelled(str(exc)) from None
    if occupancy is not None and not bool(select.all()):
        rest = torch.nonzero(~select)
        q = (rest.float() * spacing / half - 1).flip(-1).reshape(1, 1, 1, -1, 3)
        coarse = F.grid_sample(occupancy.density[None, None], q, align_corners=True)
        density[~select] = coarse.reshape(-1)
    return DensityGrid(density.numpy(), -half, spacing)


def extract_surface(grid: DensityGrid, level: float = DEFAULT_LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes at `level`: vertices (V, 3) in world units and faces (F, 3)."""
    from skimage.measure import marching_cubes
    low, high = float(grid.density.min()), float(grid.density.max())
    if not low < level < high:
        raise MeshError(f"no surface at density level {level:g}: the density ranges from {low:.3g} to "
                        f"{high:.3g}; choose a level inside that range")
    verts, faces, _, _ = marching_cubes(grid.density, level, spacing=(grid.spacing,) * 3)
    return (verts + grid.origin).astype(np.float32), faces.astype(np.int64)


@torch.no_grad()
def colour_vertices(field: FoldedField, vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 (V, 3) and label ids 1..18 (V,) from the field's heads at the vertices."""
    heads = sample_heads(field, torch.from_numpy(vertices).float())
    rgb = (heads[:, NUM_SEMANTIC:].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    labels = (heads[:, :NUM_SEMANTIC].argmax(-1) + 1).to(torch.uint8).numpy()
    return rgb, labels


def face_mesh(field: FoldedField, resolution: int = DEFAULT_RESOLUTION, level: float = DEFAULT_LEVEL,
              cube_size: float = DEFAULT_CUBE, exact: bool = False, progress: Progress | None = None,
              cancel: Cancel | None = None) -> tuple[ColouredMesh, DensityGrid]:
    """The coloured mesh of a folded, view-locked field (`FoldedField(gen, codes, lock_view=True)`)
    and the density grid it came from."""
    grid = density_grid(field, resolution, cube_size, exact, progress, cancel)
    vertices, faces = extract_surface(grid, level)
    rgb, labels = colour_vertices(field, vertices)
    return ColouredMesh(vertices, faces, rgb, labels), grid


def split_by_label(mesh: ColouredMesh) -> dict[str, ColouredMesh]:
    """One submesh per label present, keyed by label name. A face takes the label shared by at
    least two of its vertices, else that of its first vertex."""
    a, b, c = (mesh.labels[mesh.faces[:, i]] for i in range(3))
    face_label = np.where((a == b) | (a == c), a, np.where(b == c, b, a))
    parts = {}
    for label in np.unique(face_label):
        faces = mesh.faces[face_label == label]
        used, remapped = np.unique(faces, return_inverse=True)
        parts[NAMES[int(label)]] = ColouredMesh(mesh.vertices[used], remapped.reshape(-1, 3),
                                                mesh.rgb[used], mesh.labels[used])
    return parts


def save_mesh(path: str | Path, mesh: ColouredMesh, colours: np.ndarray) -> Path:
    """Write PLY, GLB or OBJ (from the suffix) with per-vertex colours (V, 3) uint8, atomically."""
    import trimesh
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in MESH_FORMATS:
        raise MeshError(f"{path}: unknown mesh format {kind!r}; choose from {', '.join(MESH_FORMATS)}")
    rgba = np.concatenate([colours, np.full((len(colours), 1), 255, np.uint8)], 1)
    tri = trimesh.Trimesh(mesh.vertices, mesh.faces, vertex_colors=rgba, process=False)
    with atomic_path(path) as tmp:
        tri.export(str(tmp), file_type=kind)
    return path
