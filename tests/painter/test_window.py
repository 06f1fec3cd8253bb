"""The standalone painter window: palette, toolbar, shortcuts and files (offscreen)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtWidgets import QHBoxLayout, QMainWindow, QPushButton, QWidget

from models.labels import ID, PALETTE, colorize
from painter import maskio
from painter.canvas import PaintCanvas
from painter.document import LabelDocument
from painter.toolbar import PainterControls
from painter.window import PainterWindow

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def window(qtbot, portrait, monkeypatch):
    win = PainterWindow(photo=maskio.load_photo(portrait / "img.jpg"))
    qtbot.addWidget(win)
    monkeypatch.setattr(win, "_discard_ok", lambda: True)     # closing at teardown must not block on a dialog
    assert win.use_mask(maskio.load_mask(portrait / "mask.png"), portrait / "mask.png")
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    return win


def _stroke(qtbot, canvas, start, end):
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(*start))
    qtbot.mouseMove(canvas, QPoint(*end))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(*end))


def test_mask_keeps_its_size_and_the_photo_is_scaled(window, real_mask, real_photo):
    doc = window.canvas.document
    assert doc.shape == (512, 512) and np.array_equal(doc.mask, real_mask)
    assert np.array_equal(doc.photo, real_photo)


def test_palette_click_selects_the_label(qtbot, window):
    palette = window.palette_widget
    with qtbot.waitSignal(palette.labelSelected) as blocker:
        qtbot.mouseClick(palette.button(ID["hat"]), Qt.MouseButton.LeftButton)
    assert blocker.args == [ID["hat"]] and window.canvas.document.label == ID["hat"]
    window.canvas.document.pick(60.5, 200.5)          # eyedropper on hair: the palette follows
    assert palette.current() == ID["hair"] and palette.button(ID["hair"]).isChecked()
    assert "hat" in palette.button(ID["hat"]).toolTip() and "#ff3399" in palette.button(ID["hat"]).toolTip()


def test_tool_and_brush_shortcuts(qtbot, window):
    doc, canvas = window.canvas.document, window.canvas
    for key, tool in [(Qt.Key.Key_F, "fill"), (Qt.Key.Key_E, "eraser"), (Qt.Key.Key_R, "rectangle"),
                      (Qt.Key.Key_I, "eyedropper"), (Qt.Key.Key_B, "brush")]:
        qtbot.keyClick(canvas, key)
        assert doc.tool == tool and window.controls.tool_actions[tool].isChecked()
    radius = doc.brush_radius
    qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert doc.brush_radius == radius + 1 and window.controls.brush_slider.value() == radius + 1
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert doc.brush_radius == radius - 1


def test_undo_redo_shortcuts(qtbot, window, real_mask):
    doc, canvas = window.canvas.document, window.canvas
    doc.label = ID["hat"]
    _stroke(qtbot, canvas, (200, 200), (400, 300))
    painted = doc.mask.copy()
    assert not np.array_equal(painted, real_mask) and window.isWindowModified()
    assert window.controls.undo_action.text() == "Undo brush stroke (hat)"
    qtbot.keyClick(canvas, Qt.Key.Key_Z, CTRL)
    assert np.array_equal(doc.mask, real_mask) and not window.isWindowModified()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, CTRL | SHIFT)
    assert np.array_equal(doc.mask, painted)
    qtbot.keyClick(canvas, Qt.Key.Key_Z, CTRL)
    qtbot.keyClick(canvas, Qt.Key.Key_Y, CTRL)
    assert np.array_equal(doc.mask, painted)
    assert not window.controls.redo_action.isEnabled() and window.controls.undo_action.isEnabled()


def test_opacity_slider_changes_the_composite(window, real_mask, real_photo):
    canvas, slider = window.canvas, window.controls.opacity_slider
    x, y = 183, 334
    pos = canvas.map_from_image(x + 0.5, y + 0.5).toPoint()

    def shown():
        colour = canvas.grab().toImage().pixelColor(pos)
        return np.array([colour.red(), colour.green(), colour.blue()], float)

    slider.setValue(0)
    assert np.all(np.abs(shown() - real_photo[y, x]) <= 1)
    slider.setValue(100)
    assert np.all(shown() == PALETTE[real_mask[y, x]])
    slider.setValue(40)
    assert np.all(np.abs(shown() - (0.6 * real_photo[y, x] + 0.4 * PALETTE[real_mask[y, x]])) <= 1)
    assert canvas.overlay_opacity == pytest.approx(0.4)


def test_save_export_and_reopen(qtbot, window, tmp_path, real_mask):
    doc = window.canvas.document
    doc.label = ID["hat"]
    _stroke(qtbot, window.canvas, (100, 100), (300, 120))
    assert window.save_mask(tmp_path / "edited.png") and not window.isWindowModified()
    assert np.array_equal(maskio.load_mask(tmp_path / "edited.png").ids, doc.mask)
    assert window.export_preview(tmp_path / "edited_color.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "edited_color.png")), colorize(doc.mask))
    Image.fromarray(colorize(real_mask)).save(tmp_path / "colour.png")
    assert window.open_mask(tmp_path / "colour.png")
    reopened = window.canvas.document
    assert reopened is not doc and np.array_equal(reopened.mask, real_mask) and not reopened.can_undo
    assert reopened.label == ID["hat"] and not window.controls.undo_action.isEnabled()


def test_bad_or_mismatched_masks_ask_first(window, tmp_path, real_mask, monkeypatch):
    errors, questions, answer = [], [], [False]
    monkeypatch.setattr(window, "_error", lambda title, text: errors.append(text))
    monkeypatch.setattr(window, "_confirm", lambda title, text: questions.append(text) or answer[0])
    Image.fromarray(real_mask * 13).save(tmp_path / "grey.png")
    assert not window.open_mask(tmp_path / "grey.png")
    assert "grey.png" in errors[0] and "above 18" in errors[0]
    Image.fromarray(real_mask[:, :384]).save(tmp_path / "narrow.png")
    assert not window.open_mask(tmp_path / "narrow.png")
    assert "384x512" in questions[0] and window.canvas.document.shape == (512, 512)
    answer[0] = True
    assert window.open_mask(tmp_path / "narrow.png")
    assert window.canvas.document.shape == (1024, 1024)          # resized to the photo, nearest
    assert set(np.unique(window.canvas.document.mask)) == set(np.unique(real_mask[:, :384]))


def test_window_renders_the_blended_photo(window):
    image = window.grab().toImage()
    assert image.width() >= 900 and image.height() >= 600
    canvas_shot = window.canvas.grab().toImage()
    colours = {canvas_shot.pixel(x, y) for x in range(0, canvas_shot.width(), 37)
               for y in range(0, canvas_shot.height(), 37)}
    assert len(colours) > 50            # a blended photo, not a flat fill


def test_embedded_canvas_shortcuts_stay_in_their_panel(qtbot, real_mask):
    main = QMainWindow()
    qtbot.addWidget(main)
    central, panel = QWidget(), QWidget()
    canvas = PaintCanvas(LabelDocument(real_mask), panel)
    QHBoxLayout(panel).addWidget(canvas)
    other = QPushButton("elsewhere")      # a focusable widget outside the panel that ignores letters
    layout = QHBoxLayout(central)
    layout.addWidget(panel)
    layout.addWidget(other)
    main.setCentralWidget(central)
    controls = PainterControls(canvas, panel, Qt.ShortcutContext.WidgetWithChildrenShortcut)
    main.addToolBar(controls.build_toolbar())
    main.show()
    qtbot.waitExposed(main)
    main.activateWindow()
    qtbot.waitUntil(main.isActiveWindow)
    other.setFocus()
    qtbot.keyClick(other, Qt.Key.Key_F)
    assert canvas.document.tool == "brush"
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_F)
    assert canvas.document.tool == "fill"
