"""Painting tools on plain arrays (no Qt)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from models.labels import ID
from painter import tools


def _within(shape, points, reach, spacing=0.02):
    """Reference brush: pixels whose centre lies within ``reach`` of dense samples of the path."""
    centres = [(np.floor(x) + 0.5, np.floor(y) + 0.5) for x, y in points]
    samples = [np.linspace(a, b, max(int(np.hypot(*np.subtract(b, a)) / spacing), 1) + 1)
               for a, b in zip(centres, centres[1:])]
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]] + 0.5
    tree = cKDTree(np.concatenate(samples))
    distance, _ = tree.query(np.stack([cols.ravel(), rows.ravel()], 1), distance_upper_bound=reach + 1)
    return distance.reshape(shape) <= reach


def test_single_dab_is_a_disc_of_diameter_2r_plus_1():
    for radius in (0, 1, 4, 9):
        mask = np.zeros((40, 40), np.uint8)
        box = tools.stamp_segment(mask, (20.3, 20.8), (20.3, 20.8), radius, 7)
        ys, xs = np.nonzero(mask == 7)
        assert xs.max() - xs.min() + 1 == 2 * radius + 1
        assert ys.max() - ys.min() + 1 == 2 * radius + 1
        assert (ys.min() + ys.max()) / 2 == 20 and (xs.min() + xs.max()) / 2 == 20
        assert box == tools.Box(ys.min(), xs.min(), ys.max() + 1, xs.max() + 1)


def test_fast_long_drag_leaves_no_gaps(real_mask):
    # Five mouse events across the whole image, up to 400 px apart.
    points = [(10.2, 15.7), (400.9, 60.1), (120.4, 480.5), (500.0, 500.0), (30.0, 300.0)]
    for radius in (0, 3):
        mask = real_mask.copy()
        for a, b in zip(points, points[1:]):
            tools.stamp_segment(mask, a, b, radius, ID["hat"])
        painted = mask == ID["hat"]
        assert ID["hat"] not in real_mask
        # Same set as a disc swept densely along the path (up to pixels within 0.01 px of the rim).
        assert np.all(painted >= _within(mask.shape, points, radius + 0.49))
        assert np.all(painted <= _within(mask.shape, points, radius + 0.51))
        connectivity = np.ones((3, 3)) if radius == 0 else None   # a 1-px line is 8-connected
        assert ndimage.label(painted, structure=connectivity)[1] == 1
        assert np.array_equal(mask[~painted], real_mask[~painted])


def test_stroke_off_the_edge_is_clipped():
    mask = np.zeros((20, 20), np.uint8)
    box = tools.stamp_segment(mask, (-30, 5.5), (5.5, 5.5), 2, 3)
    assert box is not None and box.left == 0 and box.right == 8
    assert tools.stamp_segment(mask, (-30, -30), (-20, -25), 2, 3) is None


def test_fill_changes_only_the_4_connected_region(real_mask):
    mask = real_mask.copy()
    seed = (183.5, 334.5)   # a skin pixel on the cheek
    assert real_mask[334, 183] == ID["skin"]
    box = tools.flood_fill(mask, seed, ID["hat"])
    regions, _ = ndimage.label(real_mask == ID["skin"])   # default structure: 4-connected
    expected = regions == regions[334, 183]
    assert np.array_equal(mask == ID["hat"], expected)
    assert np.array_equal(mask[~expected], real_mask[~expected])
    # Enclosed features keep their labels (the official fill painted over them).
    for name in ("nose", "l_eye", "r_eye", "u_lip"):
        assert np.count_nonzero(mask == ID[name]) == np.count_nonzero(real_mask == ID[name]) > 0
    assert box == tools.tight_box(expected)


def test_fill_does_not_leak_through_diagonal_contacts():
    mask = np.zeros((6, 6), np.uint8)
    mask[1, 1] = mask[2, 2] = mask[3, 3] = 5      # touching only at corners
    tools.flood_fill(mask, (1.5, 1.5), 9)
    assert mask[1, 1] == 9 and mask[2, 2] == 5 and mask[3, 3] == 5
    assert tools.flood_fill(mask, (1.5, 1.5), 9) is None          # same label: nothing to do
    assert tools.flood_fill(mask, (6.5, 1.5), 9) is None          # outside


def test_rectangle_includes_both_corners_and_clips():
    mask = np.zeros((30, 40), np.uint8)
    box = tools.fill_rectangle(mask, (25.9, 20.1), (5.2, 3.7), 4)   # dragged up-left
    assert box == tools.Box(3, 5, 21, 26)
    assert np.all(mask[3:21, 5:26] == 4) and np.count_nonzero(mask) == 18 * 21
    box = tools.fill_rectangle(mask, (35.0, 25.0), (90.0, 90.0), 2)
    assert box == tools.Box(25, 35, 30, 40)


def test_pick_and_resize_nearest(real_mask):
    assert tools.pick(real_mask, (256.9, 300.1)) == real_mask[300, 256]
    assert tools.pick(real_mask, (512.0, 3.0)) is None
    half = tools.resize_nearest(real_mask, (256, 256))
    assert np.array_equal(half, real_mask[1::2, 1::2])
    double = tools.resize_nearest(half, (512, 512))
    assert np.array_equal(double, np.repeat(np.repeat(half, 2, 0), 2, 1))
