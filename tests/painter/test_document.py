"""LabelDocument and its undo/redo history (no Qt)."""
from __future__ import annotations

import numpy as np
import pytest

from models.labels import ID, LabelError
from painter import tools
from painter.document import LabelDocument


def _stroke(doc: LabelDocument, points) -> None:
    doc.press(*points[0])
    for point in points[1:]:
        doc.drag(*point)
    doc.release()


def _random_strokes(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 512, size=(int(rng.integers(2, 6)), 2)) for _ in range(count)]


def test_one_undo_step_per_stroke_even_with_50_moves(real_mask):
    doc = LabelDocument(real_mask)
    doc.label, doc.brush_radius = ID["hat"], 4
    boxes = []
    doc.subscribe(boxes.append)
    _stroke(doc, [(100 + 6 * i, 200 + 2 * i) for i in range(51)])
    assert len(boxes) == 51                      # the view hears about every move...
    assert doc.history_descriptions() == ["brush stroke (hat)"]   # ...the history keeps one step
    assert doc.undo() and np.array_equal(doc.mask, real_mask)
    assert not doc.can_undo and doc.can_redo


def test_undo_redo_exact_and_bounded(real_mask):
    limit = 7
    doc = LabelDocument(real_mask, history_limit=limit)
    states = [doc.mask.copy()]
    for i, points in enumerate(_random_strokes(limit + 10)):
        doc.label = 1 + i % 18
        doc.brush_radius = i % 9
        _stroke(doc, points)
        states.append(doc.mask.copy())
    assert len(doc.history_descriptions()) == limit
    undone = 0
    while doc.undo():
        undone += 1
        assert np.array_equal(doc.mask, states[-1 - undone])
    assert undone == limit
    assert np.array_equal(doc.mask, states[10])          # the 10 oldest strokes fell out of the history
    redone = 0
    while doc.redo():
        redone += 1
        assert np.array_equal(doc.mask, states[10 + redone])
    assert redone == limit and np.array_equal(doc.mask, states[-1])


def test_new_stroke_clears_redo(real_mask):
    doc = LabelDocument(real_mask)
    doc.label = ID["hat"]
    _stroke(doc, [(50, 50), (120, 80)])
    _stroke(doc, [(300, 300), (310, 400)])
    doc.undo()
    assert doc.can_redo
    doc.tool = "eraser"
    _stroke(doc, [(60, 60), (70, 70)])
    assert not doc.can_redo and not doc.redo()
    assert doc.history_descriptions() == ["brush stroke (hat)", "eraser stroke"]


def test_stroke_that_changes_nothing_adds_no_step(real_mask):
    doc = LabelDocument(real_mask)
    doc.label = int(real_mask[5, 5])
    doc.brush_radius = 2
    _stroke(doc, [(5.5, 5.5), (6.5, 6.5)])
    assert not doc.can_undo


def test_eraser_paints_background(real_mask):
    doc = LabelDocument(real_mask)
    doc.tool, doc.brush_radius = "eraser", 6
    _stroke(doc, [(256, 100), (256, 400)])
    expected = real_mask.copy()
    tools.stamp_segment(expected, (256, 100), (256, 400), 6, 0)
    assert np.array_equal(doc.mask, expected) and not np.array_equal(expected, real_mask)


def test_rectangle_preview_leaves_only_the_final_rectangle(real_mask):
    doc = LabelDocument(real_mask)
    doc.tool, doc.label = "rectangle", ID["hat"]
    doc.press(100, 100)
    doc.drag(400, 450)          # large live rectangle...
    doc.drag(150, 130)          # ...shrunk before release
    doc.release()
    expected = real_mask.copy()
    expected[100:131, 100:151] = ID["hat"]
    assert np.array_equal(doc.mask, expected)
    assert doc.history_descriptions() == ["rectangle (hat)"]
    doc.undo()
    assert np.array_equal(doc.mask, real_mask)


def test_fill_and_eyedropper(real_mask):
    doc = LabelDocument(real_mask)
    doc.tool = "eyedropper"
    doc.press(183.5, 334.5)
    assert doc.label == ID["skin"] and not doc.can_undo
    doc.label, doc.tool = ID["hat"], "fill"
    doc.press(183.5, 334.5)
    doc.release()
    assert doc.history_descriptions() == ["fill (hat)"]
    assert ID["skin"] not in doc.mask and np.count_nonzero(doc.mask == ID["hat"]) == np.count_nonzero(
        real_mask == ID["skin"])
    doc.undo()
    assert np.array_equal(doc.mask, real_mask)


def test_replace_mask_is_one_undoable_step(real_mask):
    doc = LabelDocument(real_mask)
    rendered = tools.resize_nearest(np.flipud(real_mask), (128, 128))   # e.g. a mask rendered at 128 px
    assert doc.replace_mask(rendered, "paint over rendered mask")
    assert np.array_equal(doc.mask, tools.resize_nearest(rendered, (512, 512)))
    assert doc.history_descriptions() == ["paint over rendered mask"]
    assert not doc.replace_mask(doc.mask, "same again")
    doc.undo()
    assert np.array_equal(doc.mask, real_mask)
    doc.redo()
    assert np.array_equal(doc.mask, tools.resize_nearest(rendered, (512, 512)))


def test_undo_during_a_stroke_commits_it_first(real_mask):
    doc = LabelDocument(real_mask)
    doc.label = ID["hat"]
    doc.press(10, 10)
    doc.drag(200, 10)
    assert doc.stroke_active and doc.undo()
    assert np.array_equal(doc.mask, real_mask) and doc.can_redo and not doc.stroke_active


def test_history_memory_stays_small(real_mask):
    doc = LabelDocument(real_mask, history_limit=100)
    for points in _random_strokes(100, seed=3):
        doc.label = ID["hat"]
        _stroke(doc, points)
    # 100 strokes all over a 512x512 mask: far below one full copy per step (100 x 2 x 256 KiB).
    assert doc.history_nbytes < 100 * 2 * real_mask.nbytes / 20


def test_listeners_and_state_events(real_mask, real_photo):
    doc = LabelDocument(real_mask, real_photo)
    events = []
    doc.subscribe_state(events.append)
    doc.label = ID["hat"]
    doc.label = ID["hat"]
    doc.tool = "fill"
    doc.brush_radius = 10_000
    doc.press(183.5, 334.5)
    doc.undo()
    assert events == ["label", "tool", "brush_radius", "history", "history"]
    assert doc.brush_radius == 100
    doc.unsubscribe_state(events.append)
    doc.label = 2
    assert len(events) == 5


def test_mask_view_is_read_only_and_inputs_are_checked(real_mask, real_photo):
    doc = LabelDocument(real_mask, real_photo)
    with pytest.raises(ValueError):
        doc.mask[0, 0] = 3
    with pytest.raises(LabelError, match="above 18"):
        LabelDocument(real_mask * 20)
    with pytest.raises(ValueError, match="512x512"):
        LabelDocument(real_mask, real_photo[:256])
    with pytest.raises(ValueError, match="unknown tool"):
        doc.tool = "spray"
    with pytest.raises(ValueError, match="0..18"):
        doc.label = 19
