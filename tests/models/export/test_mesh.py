"""Coloured meshes: on the iso-surface, in world units, reloadable with their colours."""
import numpy as np
import pytest
import torch
import trimesh

from models.bake.lattice import sample_density
from models.export.common import ExportCancelled
from models.export.mesh import MeshError, density_grid, extract_surface, face_mesh, save_mesh, split_by_label
from models.labels import NAMES, PALETTE

RESOLUTION = 32


@pytest.fixture(scope="module")
def mesh_and_grid(field_b):
    return face_mesh(field_b, RESOLUTION, level=10.0)


def test_vertices_lie_on_the_level_set_in_world_units(field_b, mesh_and_grid):
    mesh, grid = mesh_and_grid
    assert grid.density.shape == (RESOLUTION,) * 3 and grid.spacing == pytest.approx(0.3 / (RESOLUTION - 1))
    assert 100 < len(mesh.vertices) < RESOLUTION ** 3 and len(mesh.faces) > len(mesh.vertices) // 2
    assert np.abs(mesh.vertices).max() <= 0.15 + 1e-6 and mesh.faces.max() < len(mesh.vertices)
    error = np.median(np.abs(sample_density(field_b, torch.from_numpy(mesh.vertices)).numpy() - 10.0))
    swapped = np.median(np.abs(sample_density(field_b, torch.from_numpy(mesh.vertices[:, ::-1].copy())).numpy() - 10.0))
    assert error < 1.0 and error < 0.3 * swapped


def test_files_reload_with_their_vertex_colours(tmp_path, mesh_and_grid):
    mesh, _ = mesh_and_grid
    for kind in ("ply", "glb", "obj"):
        for colours in (mesh.rgb, mesh.label_rgb()):
            path = save_mesh(tmp_path / f"face.{kind}", mesh, colours)
            loaded = trimesh.load(path, process=False, force="mesh")
            assert len(loaded.vertices) == len(mesh.vertices) and len(loaded.faces) == len(mesh.faces)
            assert loaded.visual.kind == "vertex"
            np.testing.assert_array_equal(loaded.visual.vertex_colors[:, :3], colours)
            np.testing.assert_allclose(loaded.vertices, mesh.vertices, atol=1e-5)
    with pytest.raises(MeshError, match="unknown mesh format"):
        save_mesh(tmp_path / "face.stl", mesh, mesh.rgb)


def test_label_colours_are_the_official_palette(mesh_and_grid):
    mesh, _ = mesh_and_grid
    assert mesh.labels.min() >= 1 and mesh.labels.max() <= 18 and len(np.unique(mesh.labels)) > 1
    colours = mesh.label_rgb()
    np.testing.assert_array_equal(colours, PALETTE[mesh.labels])
    palette = {tuple(c) for c in PALETTE[1:]}
    assert {tuple(c) for c in colours} <= palette


def test_regions_partition_the_faces(mesh_and_grid):
    mesh, _ = mesh_and_grid
    parts = split_by_label(mesh)
    assert set(parts) <= set(NAMES[1:]) and len(parts) > 1
    assert sum(len(p.faces) for p in parts.values()) == len(mesh.faces)
    for name, part in parts.items():
        assert part.faces.max() < len(part.vertices)
        labels = part.labels[part.faces]
        votes = (labels == NAMES.index(name)).sum(1)
        lone = votes == 1                          # then no other label may hold a majority
        assert votes.min() >= 1 and bool((labels[lone, 0] == NAMES.index(name)).all())
        assert bool((labels[lone, 1] != labels[lone, 2]).all())


def test_restricted_sampling_matches_full_sampling_on_the_surface(field_b, mesh_and_grid):
    mesh, grid = mesh_and_grid
    full = density_grid(field_b, RESOLUTION, exact=True)
    assert np.array_equal(full.density > 10.0, grid.density > 10.0)
    vertices, _ = extract_surface(full, 10.0)
    np.testing.assert_allclose(vertices, mesh.vertices, atol=1e-5)
    with pytest.raises(MeshError, match="no surface at density level 1e\\+06"):
        extract_surface(full, 1e6)


def test_cancel_raises_export_cancelled(field_b):
    planes = []
    with pytest.raises(ExportCancelled):
        density_grid(field_b, RESOLUTION, progress=lambda d, t: planes.append(d), cancel=lambda: len(planes) >= 2)
    assert planes == [1, 2]
