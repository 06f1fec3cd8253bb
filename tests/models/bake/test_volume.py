"""The bake stores the field's own values, only where renders can use them, within a memory budget."""
import pytest
import torch

from models.bake.lattice import BakeCancelled, lattice_points, sample_density, sample_heads
from models.bake.volume import BakeBudgetError, bake, coarse_occupancy, occupied_selection


@pytest.fixture(scope="module")
def baked(face_b):
    _, _, field = face_b
    occupancy = coarse_occupancy(field)
    return field, occupancy, bake(field, 20, occupancy)


def test_stored_values_are_the_field_at_the_vertices(baked):
    field, occupancy, volume = baked
    shape = volume.shape
    index = torch.stack(torch.meshgrid(*(torch.arange(n) for n in shape), indexing="ij"), -1).reshape(-1, 3)
    points = lattice_points(volume.origin, volume.spacing, index)
    truth = sample_density(field, points).reshape(shape)
    first = torch.round((volume.origin + volume.extent) / volume.spacing).long()
    select = occupied_selection(occupancy, first, shape, volume.spacing)
    assert int(select.sum()) == volume.stats["evaluated"] > 0
    torch.testing.assert_close(volume.density[select], truth[select], rtol=1e-4, atol=1e-3)
    assert bool((volume.density[~select] == 0).all())
    assert bool(select[truth > 0].all())          # the coarse pass missed no positive density
    heads = sample_heads(field, points).reshape(*shape, -1)
    stored = volume.heads.abs().sum(-1) > 0
    assert int(stored.sum()) == volume.stats["heads"] > 0
    torch.testing.assert_close(volume.heads[stored], heads[stored], rtol=1e-4, atol=1e-3)


def test_heads_are_stored_wherever_a_cell_can_have_positive_density(baked):
    _, _, volume = baked
    positive = (volume.density > 0).float()[None, None]
    near = torch.nn.functional.max_pool3d(positive, 3, stride=1, padding=1)[0, 0] > 0
    assert bool((volume.heads[near].abs().sum(-1) > 0).all())


def test_stored_box_is_the_occupied_part_of_the_cube(baked):
    _, occupancy, volume = baked
    lo, hi = volume.bounds()
    occ_lo, occ_hi = occupancy.bounds()
    assert bool((lo <= occ_lo + 1e-6).all() and (hi >= occ_hi - 1e-6).all())
    assert bool((lo >= -volume.extent - 1e-6).all() and (hi <= volume.extent + 1e-6).all())
    assert volume.spacing == pytest.approx(2 * volume.extent / 20)


def test_budget_that_does_not_fit_is_refused_with_the_largest_resolution_that_would(baked):
    field, occupancy, _ = baked
    with pytest.raises(BakeBudgetError, match=r"512\^3 bake needs .* GiB.*memory budget.*at most \d+"):
        bake(field, 512, occupancy, budget=64 << 20)
    with pytest.raises(ValueError, match="outside"):
        bake(field, 4, occupancy)


def test_cancel_stops_the_bake_and_progress_counts_planes(baked):
    field, occupancy, _ = baked
    calls = []
    with pytest.raises(BakeCancelled):
        bake(field, 20, occupancy, progress=lambda d, t: calls.append((d, t)), cancel=lambda: len(calls) >= 3)
    assert calls == [(1, calls[0][1]), (2, calls[0][1]), (3, calls[0][1])] and calls[0][1] > 3


def test_nothing_occupied_gives_an_empty_volume(baked):
    field, occupancy, _ = baked
    nothing = type(occupancy)(occupancy.density, torch.zeros_like(occupancy.cells), occupancy.extent)
    volume = bake(field, 20, nothing)
    assert volume.empty and volume.stats["evaluated"] == 0


def test_planes_without_a_selected_vertex_are_skipped(baked):
    """A field that is empty over whole planes of the cube (the demo model outside the head)."""
    from models.bake.lattice import EMPTY_DENSITY, evaluate_lattice
    field, _, _ = baked
    select = torch.zeros(6, 5, 5, dtype=torch.bool)
    select[2:4, 1:4, 1:4] = True
    origin = torch.full((3,), -0.05)
    density, heads, _ = evaluate_lattice(field, origin, 0.02, select)
    index = torch.nonzero(select)
    truth = sample_density(field, lattice_points(origin, 0.02, index))
    torch.testing.assert_close(density[select], truth, rtol=1e-4, atol=1e-3)
    assert bool((density[~select] == EMPTY_DENSITY).all()) and bool((heads[[0, 1, 4, 5]] == 0).all())
