"""Actions, shortcuts and a toolbar for a PaintCanvas, reusable in any window.

Shortcuts: B brush, E eraser, F fill, R rectangle, I eyedropper, [ and ] brush size,
Ctrl+Z undo, Ctrl+Shift+Z or Ctrl+Y redo, Ctrl+0 fit, Ctrl+1 actual size, M cycles the display.
"""
from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import QObject, Qt
from PyQt6.QtGui import QAction, QActionGroup, QKeySequence
from PyQt6.QtWidgets import QComboBox, QLabel, QSlider, QToolBar, QWidget

from models.labels import NAMES
from painter.canvas import DISPLAY_MODES, PaintCanvas
from painter.document import MAX_BRUSH_RADIUS, TOOLS
from painter.palette import label_colour, label_tooltip

TOOL_KEYS = {"brush": "B", "eraser": "E", "fill": "F", "rectangle": "R", "eyedropper": "I"}
_TOOL_TEXT = {"brush": "Brush", "eraser": "Eraser", "fill": "Fill", "rectangle": "Rectangle", "eyedropper": "Pick"}
_MODE_TEXT = {"overlay": "Mask over photo", "mask": "Mask only", "photo": "Photo only"}


class PainterControls(QObject):
    """Tool, history and view actions bound to a canvas, plus the sliders of its toolbar.

    The actions are added to ``host``; with the default ``scope`` their shortcuts work anywhere in
    the host's window. An app embedding the canvas in a panel can pass the panel and
    ``Qt.ShortcutContext.WidgetWithChildrenShortcut`` so the keys act only while it has focus.
    """

    def __init__(self, canvas: PaintCanvas, host: QWidget,
                 scope: Qt.ShortcutContext = Qt.ShortcutContext.WindowShortcut) -> None:
        super().__init__(host)
        self.canvas = canvas
        self.tool_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        for name in TOOLS:
            action = QAction(_TOOL_TEXT[name], self, checkable=True)
            action.setShortcut(QKeySequence(TOOL_KEYS[name]))
            action.setToolTip(f"{_TOOL_TEXT[name]} ({TOOL_KEYS[name]})")
            action.triggered.connect(lambda _checked, tool=name: canvas.set_tool(tool))
            group.addAction(action)
            self.tool_actions[name] = action
        self.undo_action = self._action("Undo", ["Ctrl+Z"], self._undo)
        self.redo_action = self._action("Redo", ["Ctrl+Shift+Z", "Ctrl+Y"], self._redo)
        self.smaller_action = self._action("Smaller brush", ["["], lambda: self._step_brush(-1))
        self.bigger_action = self._action("Bigger brush", ["]"], lambda: self._step_brush(+1))
        self.fit_action = self._action("Fit to window", ["Ctrl+0"], canvas.fit_to_view)
        self.actual_size_action = self._action("Actual size", ["Ctrl+1"], lambda: canvas.set_zoom(1.0))
        self.cycle_display_action = self._action("Cycle display", ["M"], self._cycle_display)
        self.fit_action.setIconText("Fit")
        for action in self.actions():
            action.setShortcutContext(scope)
        host.addActions(self.actions())

        self.brush_slider = QSlider(Qt.Orientation.Horizontal)
        self.brush_slider.setRange(0, MAX_BRUSH_RADIUS)
        self.brush_slider.setToolTip("Brush radius in pixels ([ and ])")
        self.brush_slider.valueChanged.connect(canvas.set_brush_radius)
        self.brush_label = QLabel()
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setToolTip("Mask opacity over the photo")
        self.opacity_slider.valueChanged.connect(lambda value: canvas.set_overlay_opacity(value / 100))
        self.mode_combo = QComboBox()
        for mode in DISPLAY_MODES:
            self.mode_combo.addItem(_MODE_TEXT[mode], mode)
        self.mode_combo.setToolTip("What to show (M)")
        self.mode_combo.currentIndexChanged.connect(
            lambda index: canvas.set_display_mode(self.mode_combo.itemData(index)))
        self.current_label = QLabel()

        canvas.toolChanged.connect(self._show_tool)
        canvas.brushRadiusChanged.connect(self._show_radius)
        canvas.historyChanged.connect(self._show_history)
        canvas.opacityChanged.connect(lambda value: self.opacity_slider.setValue(round(value * 100)))
        canvas.displayModeChanged.connect(
            lambda mode: self.mode_combo.setCurrentIndex(DISPLAY_MODES.index(mode)))
        canvas.labelChanged.connect(self._show_label)
        self._sync()

    def _action(self, text: str, keys: list[str], slot: Callable[[], object]) -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(key) for key in keys])
        action.setToolTip(f"{text} ({', '.join(keys)})")
        action.triggered.connect(slot)
        return action

    def actions(self) -> list[QAction]:
        """Every action, for a menu or a window."""
        return [*self.tool_actions.values(), self.undo_action, self.redo_action, self.smaller_action,
                self.bigger_action, self.fit_action, self.actual_size_action, self.cycle_display_action]

    def _sync(self) -> None:
        """Show the canvas's current state; later changes arrive through its signals."""
        canvas, doc = self.canvas, self.canvas.document
        self._show_tool(doc.tool)
        self._show_radius(doc.brush_radius)
        self._show_history(doc.can_undo, doc.can_redo)
        self._show_label(doc.label)
        self.opacity_slider.setValue(round(canvas.overlay_opacity * 100))
        self.mode_combo.setCurrentIndex(DISPLAY_MODES.index(canvas.display_mode))

    def build_toolbar(self, title: str = "Paint") -> QToolBar:
        """A toolbar with the tools, brush size, mask opacity, display mode and undo/redo."""
        bar = QToolBar(title)
        bar.setObjectName("painterToolbar")
        bar.addActions(list(self.tool_actions.values()))
        bar.addSeparator()
        bar.addWidget(self.current_label)
        bar.addSeparator()
        bar.addWidget(QLabel(" Size "))
        self.brush_slider.setFixedWidth(120)
        bar.addWidget(self.brush_slider)
        bar.addWidget(self.brush_label)
        bar.addSeparator()
        bar.addWidget(QLabel(" Opacity "))
        self.opacity_slider.setFixedWidth(100)
        bar.addWidget(self.opacity_slider)
        bar.addWidget(self.mode_combo)
        bar.addSeparator()
        bar.addActions([self.undo_action, self.redo_action, self.fit_action])
        return bar

    def _undo(self) -> None:
        self.canvas.document.undo()

    def _redo(self) -> None:
        self.canvas.document.redo()

    def _step_brush(self, direction: int) -> None:
        radius = self.canvas.document.brush_radius
        self.canvas.set_brush_radius(radius + direction * max(1, radius // 5))

    def _cycle_display(self) -> None:
        modes = DISPLAY_MODES
        self.canvas.set_display_mode(modes[(modes.index(self.canvas.display_mode) + 1) % len(modes)])

    def _show_tool(self, name: str) -> None:
        self.tool_actions[name].setChecked(True)

    def _show_radius(self, radius: int) -> None:
        self.brush_slider.setValue(radius)
        self.brush_label.setText(f" {2 * radius + 1} px ")

    def _show_label(self, label: int) -> None:
        colour = label_colour(label).name()
        self.current_label.setText(f'&nbsp;<span style="background:{colour}">&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;</span>'
                                   f"&nbsp;{NAMES[label]}&nbsp;")
        self.current_label.setToolTip(f"Current label: {label_tooltip(label)}")

    def _show_history(self, can_undo: bool, can_redo: bool) -> None:
        doc = self.canvas.document
        self.undo_action.setEnabled(can_undo)
        self.redo_action.setEnabled(can_redo)
        self.undo_action.setText(f"Undo {doc.history_descriptions()[-1]}" if can_undo else "Undo")
        self.redo_action.setText(f"Redo {doc.redo_descriptions()[0]}" if can_redo else "Redo")
        self.undo_action.setIconText("Undo")     # the toolbar stays short; menus show the full text
        self.redo_action.setIconText("Redo")
