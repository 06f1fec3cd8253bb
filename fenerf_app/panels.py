"""The main window's panels: the paint panel (the painter's canvas and toolbar), the 3D view
panel (viewport, display mode, paint-over-this-view) and the list of open portraits."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                             QVBoxLayout, QWidget)

from fenerf_app.portrait import Portrait
from fenerf_app.render_scheduler import Scene
from fenerf_app.session import StudioSession
from fenerf_app.viewport import MODES, Viewport
from painter.canvas import PaintCanvas
from painter.document import LabelDocument
from painter.toolbar import PainterControls

PLACEHOLDER_SIDE = 256


class PaintPanel(QWidget):
    """The painter embedded: shows the current portrait's mask document over its photo."""

    def __init__(self, session: StudioSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._placeholder = LabelDocument(np.zeros((PLACEHOLDER_SIDE, PLACEHOLDER_SIDE), np.uint8))
        self.canvas = PaintCanvas(self._placeholder, self)
        self.controls = PainterControls(self.canvas, self, Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.toolbar = self.controls.build_toolbar("Paint")      # the window places it (full width)
        self.title = QLabel()
        self.title.setToolTip("Left button paints with the tool, right button picks the label under the cursor, "
                              "wheel zooms, middle button pans")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas, 1)
        session.currentChanged.connect(self.show_portrait)
        self.show_portrait(session.current)

    def show_portrait(self, portrait: Portrait | None) -> None:
        document = self._placeholder if portrait is None else portrait.document
        if document is not self.canvas.document:
            old = self.canvas.document
            document.label, document.tool, document.brush_radius = old.label, old.tool, old.brush_radius
            self.canvas.set_document(document)
        self.canvas.setEnabled(portrait is not None)
        self.toolbar.setEnabled(portrait is not None)
        self.title.setText(" No portrait: File > Open photo, or New random portrait" if portrait is None
                           else f" Mask of <b>{portrait.name}</b> ({document.shape[1]}x{document.shape[0]})")


class ViewPanel(QWidget):
    """The 3D viewport with its display mode and the paint-over-this-view action."""

    paintOverRequested = pyqtSignal()

    def __init__(self, session: StudioSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.viewport = Viewport(self)
        self.mode_combo = QComboBox()
        for mode in MODES:
            self.mode_combo.addItem(mode.capitalize(), mode)
        self.mode_combo.setToolTip("What the 3D view shows")
        self.mode_combo.currentIndexChanged.connect(lambda i: self.viewport.set_mode(self.mode_combo.itemData(i)))
        self.viewport.modeChanged.connect(lambda mode: self.mode_combo.setCurrentIndex(MODES.index(mode)))
        self.paint_over_button = QPushButton("Paint over this view")
        self.paint_over_button.setToolTip("Replace the mask by the one rendered in this 3D view (undoable)")
        self.paint_over_button.clicked.connect(self.paintOverRequested)
        self.reset_button = QPushButton("Reset view")
        self.reset_button.clicked.connect(self.viewport.reset_camera)
        row = QHBoxLayout()
        row.addWidget(QLabel(" 3D view "))
        row.addWidget(self.mode_combo)
        row.addStretch(1)
        row.addWidget(self.reset_button)
        row.addWidget(self.paint_over_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.viewport, 1)
        self.viewport.frameShown.connect(lambda _f: self.paint_over_button.setEnabled(True))
        for signal in (session.currentChanged, session.codesChanged, session.modelChanged):
            signal.connect(lambda *_: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        """Show the current portrait's codes (or say why nothing is shown)."""
        session, portrait = self.session, self.session.current
        self.paint_over_button.setEnabled(False)
        if session.model is None:
            self.viewport.set_scene(None, "Loading the model...")
        elif portrait is None:
            self.viewport.set_scene(None, "No portrait: open a photo or create a random portrait")
        elif portrait.codes is None:
            self.viewport.set_scene(None, f"{portrait.name} is not inverted yet: press Invert to see it in 3D")
        else:
            model = session.model
            codes = portrait.effective_codes(session.average_codes())
            key = (id(model), portrait.id, portrait.version, portrait.psi)
            self.viewport.set_scene(Scene(session.generator_for(portrait), codes, key, model.render_defaults))


class PortraitList(QListWidget):
    """The open portraits; selecting one makes it current."""

    def __init__(self, session: StudioSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setToolTip("Open portraits: click one to edit it")
        session.portraitsChanged.connect(self.refresh)
        session.currentChanged.connect(lambda _p: self.refresh())
        session.codesChanged.connect(lambda _p: self.refresh())
        self.currentItemChanged.connect(self._chosen)
        self.refresh()

    def refresh(self) -> None:
        self.blockSignals(True)
        self.clear()
        for portrait in self.session.portraits.values():
            state = "inverted" if portrait.inversion is not None else ("codes" if portrait.codes is not None
                                                                        else "not inverted")
            item = QListWidgetItem(f"{portrait.name}  ({state})")
            item.setData(Qt.ItemDataRole.UserRole, portrait.id)
            self.addItem(item)
            if portrait is self.session.current:
                self.setCurrentItem(item)
        self.blockSignals(False)

    def _chosen(self, item: QListWidgetItem | None, _previous) -> None:
        if item is not None:
            self.session.set_current(item.data(Qt.ItemDataRole.UserRole))
