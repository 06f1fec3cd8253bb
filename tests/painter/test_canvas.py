"""PaintCanvas driven by real Qt mouse, wheel and key events (offscreen)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PyQt6 import sip
from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtGui import QWheelEvent
from PyQt6.QtWidgets import QApplication

from models.labels import ID, PALETTE
from painter import tools
from painter.canvas import ZOOM_STEP, PaintCanvas
from painter.document import LabelDocument

SIZE = 600                  # widget side; the 512x512 image is fitted at zoom 600/512
FIT = SIZE / 512

LEFT, MIDDLE, RIGHT = Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton


@pytest.fixture
def canvas(qtbot, real_mask, real_photo):
    doc = LabelDocument(real_mask, real_photo)
    widget = PaintCanvas(doc)
    qtbot.addWidget(widget)
    widget.resize(SIZE, SIZE)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _drag(qtbot, widget, points, button=LEFT, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.mousePress(widget, button, modifier, QPoint(*points[0]))
    for point in points[1:]:
        qtbot.mouseMove(widget, QPoint(*point))
    qtbot.mouseRelease(widget, button, modifier, QPoint(*points[-1]))


def _wheel(widget, pos: QPoint, notches: int) -> None:
    event = QWheelEvent(QPointF(pos), QPointF(widget.mapToGlobal(pos)), QPoint(0, 0), QPoint(0, 120 * notches),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def _shown(widget, x: int, y: int) -> tuple[int, int, int]:
    """Colour the widget shows at the centre of image pixel (x, y)."""
    pos = widget.map_from_image(x + 0.5, y + 0.5)
    colour = widget.grab().toImage().pixelColor(math.floor(pos.x()), math.floor(pos.y()))
    return colour.red(), colour.green(), colour.blue()


def test_mouse_stroke_paints_at_the_mapped_position(qtbot, canvas, real_mask):
    doc = canvas.document
    doc.label, doc.brush_radius = ID["hat"], 3
    widget_points = [(120, 150), (420, 160), (300, 520)]          # two fast jumps of 300+ px
    with qtbot.waitSignal(canvas.maskChanged):
        _drag(qtbot, canvas, widget_points)
    expected = real_mask.copy()
    image_points = [(x / FIT, y / FIT) for x, y in widget_points]
    for a, b in zip(image_points, image_points[1:]):
        tools.stamp_segment(expected, a, b, 3, ID["hat"])
    assert np.array_equal(doc.mask, expected)
    assert doc.history_descriptions() == ["brush stroke (hat)"]
    canvas.set_display_mode("mask")
    assert _shown(canvas, int(420 / FIT), int(160 / FIT)) == tuple(PALETTE[ID["hat"]])


def test_wheel_zoom_keeps_the_point_under_the_cursor(qtbot, canvas, real_mask):
    doc = canvas.document
    doc.label, doc.brush_radius = ID["hat"], 0
    anchor = QPoint(400, 250)
    before = canvas.map_to_image(QPointF(anchor))
    assert before == pytest.approx((400 / FIT, 250 / FIT))
    _wheel(canvas, anchor, 2)
    assert canvas.zoom == pytest.approx(FIT * ZOOM_STEP ** 2)
    assert canvas.map_to_image(QPointF(anchor)) == pytest.approx(before)
    # A click elsewhere lands where the zoomed transform says, computed from first principles.
    click = QPoint(150, 480)
    qtbot.mouseClick(canvas, LEFT, pos=click)
    x = before[0] + (click.x() - anchor.x()) / (FIT * ZOOM_STEP ** 2)
    y = before[1] + (click.y() - anchor.y()) / (FIT * ZOOM_STEP ** 2)
    changed = np.argwhere(doc.mask != real_mask)
    assert changed.tolist() == [[math.floor(y), math.floor(x)]]
    _wheel(canvas, anchor, -3)
    assert canvas.map_to_image(QPointF(anchor)) == pytest.approx(before)


def test_middle_drag_and_space_drag_pan_without_painting(qtbot, canvas, real_mask):
    doc = canvas.document
    _drag(qtbot, canvas, [(300, 300), (340, 280), (350, 270)], button=MIDDLE)
    assert canvas.map_to_image(QPointF(350, 270)) == pytest.approx((300 / FIT, 300 / FIT))
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    _drag(qtbot, canvas, [(350, 270), (250, 370)])
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    assert canvas.map_to_image(QPointF(250, 370)) == pytest.approx((300 / FIT, 300 / FIT))
    assert np.array_equal(doc.mask, real_mask) and not doc.can_undo
    _drag(qtbot, canvas, [(250, 370), (260, 370)])       # space released: paints again
    assert doc.can_undo


def test_right_click_and_alt_click_pick_the_label(qtbot, canvas, real_mask):
    cheek = canvas.map_from_image(183.5, 334.5).toPoint()
    hair = canvas.map_from_image(60.5, 200.5).toPoint()
    assert real_mask[200, 60] == ID["hair"]
    with qtbot.waitSignal(canvas.labelChanged) as blocker:
        qtbot.mouseClick(canvas, RIGHT, pos=hair)
    assert blocker.args == [ID["hair"]] and canvas.document.label == ID["hair"]
    qtbot.mouseClick(canvas, LEFT, Qt.KeyboardModifier.AltModifier, pos=cheek)
    assert canvas.document.label == ID["skin"]
    assert np.array_equal(canvas.document.mask, real_mask)


def test_fill_tool_click(qtbot, canvas, real_mask):
    canvas.set_tool("fill")
    canvas.set_label(ID["hat"])
    with qtbot.waitSignal(canvas.historyChanged) as blocker:
        qtbot.mouseClick(canvas, LEFT, pos=canvas.map_from_image(183.5, 334.5).toPoint())
    assert blocker.args == [True, False]
    assert np.count_nonzero(canvas.document.mask == ID["hat"]) == np.count_nonzero(real_mask == ID["skin"])


def test_overlay_opacity_and_display_modes(canvas, real_mask, real_photo):
    x, y = 183, 334
    photo, colour = real_photo[y, x].astype(float), PALETTE[real_mask[y, x]].astype(float)
    for opacity in (0.0, 0.3, 1.0):
        canvas.set_overlay_opacity(opacity)
        expected = photo * (1 - opacity) + colour * opacity
        assert np.all(np.abs(np.array(_shown(canvas, x, y)) - expected) <= 1)
    canvas.set_overlay_opacity(0.3)
    canvas.set_display_mode("photo")
    assert _shown(canvas, x, y) == tuple(real_photo[y, x])
    assert np.array_equal(canvas.composite(), real_photo)
    canvas.set_display_mode("mask")
    assert _shown(canvas, x, y) == tuple(PALETTE[real_mask[y, x]])


def test_hover_reports_pixel_and_label(qtbot, canvas, real_mask):
    with qtbot.waitSignal(canvas.hovered) as blocker:
        qtbot.mouseMove(canvas, QPoint(round(183.5 * FIT), round(334.5 * FIT)))
    assert blocker.args == [183, 334, ID["skin"]]


def test_a_destroyed_canvas_stops_listening(qtbot, real_mask):
    doc = LabelDocument(real_mask)
    widget = PaintCanvas(doc)
    widget.deleteLater()
    qtbot.waitUntil(lambda: sip.isdeleted(widget))
    assert doc.replace_mask(np.zeros_like(real_mask), "clear")    # would raise if it still called the canvas
