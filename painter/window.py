"""The standalone painter window: canvas, palette dock, toolbar, menus and mask files.

The mask sets the document's size (CelebAMask-HQ masks are 512x512 while photos are 1024x1024);
the photo is scaled to it for display. A mask and photo of different aspect ratios ask before
the mask is resized (nearest neighbour) to the photo's size.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QCloseEvent, QKeySequence
from PyQt6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QWidget

from models.labels import NAMES, LabelError
from painter import maskio
from painter.canvas import PaintCanvas
from painter.document import LabelDocument
from painter.palette import LabelPalette
from painter.toolbar import PainterControls
from painter.tools import resize_nearest

DEFAULT_SIZE = 512
_MASK_FILTER = "ID masks (*.png);;Images (*.png *.jpg *.jpeg *.bmp)"
_PHOTO_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.webp)"


def new_mask_shape(photo_shape: tuple[int, ...] | None, longest: int = DEFAULT_SIZE) -> tuple[int, int]:
    """Size of an empty mask for a photo: its shape with the long side at most ``longest``."""
    if photo_shape is None:
        return longest, longest
    height, width = photo_shape[:2]
    scale = min(1.0, longest / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


class PainterWindow(QMainWindow):
    """Main window around a PaintCanvas, starting on an empty mask over ``photo`` (full resolution) if given."""

    def __init__(self, photo: np.ndarray | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._photo = photo
        self._mask_path: Path | None = None
        mask = np.zeros(new_mask_shape(None if photo is None else photo.shape), np.uint8)
        self.canvas = PaintCanvas(self._make_document(mask), self)
        self.setCentralWidget(self.canvas)
        self.palette_widget = LabelPalette()
        dock = QDockWidget("Labels", self)
        dock.setObjectName("labelsDock")
        dock.setWidget(self.palette_widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.controls = PainterControls(self.canvas, self)
        self.addToolBar(self.controls.build_toolbar())
        self.palette_widget.labelSelected.connect(self.canvas.set_label)
        self.canvas.labelChanged.connect(self.palette_widget.set_current)
        self.palette_widget.set_current(self.canvas.document.label)
        self._hover_label = QLabel()
        self._zoom_label = QLabel()
        self.statusBar().addWidget(self._hover_label, 1)
        self.statusBar().addPermanentWidget(self._zoom_label)
        self.canvas.hovered.connect(self._show_hover)
        self.canvas.zoomChanged.connect(lambda zoom: self._zoom_label.setText(f"{zoom * 100:.0f}%"))
        self.canvas.maskChanged.connect(self._update_title)
        self._build_menus()
        self._mark_saved()
        self.resize(1100, 760)

    # -- files -------------------------------------------------------------------------------
    def _make_document(self, mask: np.ndarray) -> LabelDocument:
        photo = None if self._photo is None else maskio.fit_photo(self._photo, mask.shape)
        return LabelDocument(mask, photo)

    def _set_mask(self, mask: np.ndarray, path: Path | None) -> None:
        self._mask_path = path
        old, new = self.canvas.document, self._make_document(mask)
        new.label, new.tool, new.brush_radius = old.label, old.tool, old.brush_radius
        self.canvas.set_document(new)
        self._mark_saved()

    def open_mask(self, path: str | Path) -> bool:
        """Load an ID mask file as a new document; problems are shown in dialogs."""
        path = Path(path)
        try:
            loaded = maskio.load_mask(path)
        except (LabelError, maskio.ImageFileError) as exc:
            self._error("Cannot open mask", str(exc))
            return False
        return self.use_mask(loaded, path)

    def use_mask(self, loaded: maskio.LoadedMask, path: Path) -> bool:
        """Edit a mask read from ``path``; asks before resizing it to a photo of another shape."""
        mask = loaded.ids
        if self._photo is not None and not maskio.same_aspect(mask.shape, self._photo.shape[:2]):
            height, width = self._photo.shape[:2]
            if not self._confirm("Mask and photo differ in shape",
                                 f"{path.name} is {mask.shape[1]}x{mask.shape[0]} but the photo is {width}x{height}.\n"
                                 f"Resize the mask to {width}x{height} (nearest neighbour, labels kept)?"):
                return False
            mask = resize_nearest(mask, (height, width))
        self._set_mask(mask, path)
        note = " (converted from palette colours)" if loaded.from_colour else ""
        self.statusBar().showMessage(f"Opened {path}{note}", 5000)
        return True

    def open_photo(self, path: str | Path) -> bool:
        """Show a photo under the mask (scaled to the mask); problems are shown in dialogs."""
        path = Path(path)
        try:
            photo = maskio.load_photo(path)
        except maskio.ImageFileError as exc:
            self._error("Cannot open photo", str(exc))
            return False
        doc = self.canvas.document
        if maskio.same_aspect(doc.shape, photo.shape[:2]):
            self._photo = photo
            doc.set_photo(maskio.fit_photo(photo, doc.shape))
            return True
        if not doc.mask.any():
            self._photo = photo
            self._set_mask(np.zeros(new_mask_shape(photo.shape), np.uint8), self._mask_path)
            return True
        height, width = photo.shape[:2]
        if not self._confirm("Mask and photo differ in shape",
                             f"The mask is {doc.shape[1]}x{doc.shape[0]} but {path.name} is {width}x{height}.\n"
                             f"Resize the mask to {width}x{height} (nearest neighbour; the undo history is cleared)?"):
            return False
        self._photo = photo
        self._set_mask(resize_nearest(doc.mask, (height, width)), self._mask_path)
        return True

    def save_mask(self, path: str | Path | None = None) -> bool:
        """Save the ID mask (to its current file when ``path`` is None; asks for one if it has none)."""
        if path is None and self._mask_path is None:
            return self._save_mask_as()
        target = Path(path) if path is not None else self._mask_path
        try:
            maskio.save_mask(target, self.canvas.document.mask)
        except (OSError, ValueError) as exc:
            self._error("Cannot save mask", f"Could not write {target}:\n{exc}")
            return False
        self._mask_path = target
        self._mark_saved()
        self.statusBar().showMessage(f"Saved {target}", 5000)
        return True

    def export_preview(self, path: str | Path) -> bool:
        """Write the mask in palette colours."""
        try:
            maskio.save_colour_preview(path, self.canvas.document.mask)
        except (OSError, ValueError) as exc:
            self._error("Cannot export preview", f"Could not write {path}:\n{exc}")
            return False
        self.statusBar().showMessage(f"Exported {path}", 5000)
        return True

    def is_modified(self) -> bool:
        """True when the mask differs from the last saved or opened one."""
        return not np.array_equal(self.canvas.document.mask, self._saved_mask)

    # -- menus and dialogs -------------------------------------------------------------------
    def _build_menus(self) -> None:
        files = self.menuBar().addMenu("&File")
        files.addAction("&Open mask...", QKeySequence("Ctrl+O"), self._ask_open_mask)
        files.addAction("Open &photo...", QKeySequence("Ctrl+Shift+O"), self._ask_open_photo)
        files.addSeparator()
        files.addAction("&Save mask", QKeySequence("Ctrl+S"), self.save_mask)
        files.addAction("Save mask &as...", QKeySequence("Ctrl+Shift+S"), self._save_mask_as)
        files.addAction("&Export colour preview...", QKeySequence("Ctrl+E"), self._ask_export)
        files.addSeparator()
        files.addAction("&Quit", QKeySequence("Ctrl+Q"), self.close)
        edit = self.menuBar().addMenu("&Edit")
        edit.addActions([self.controls.undo_action, self.controls.redo_action])
        edit.addSeparator()
        edit.addAction("&Clear mask", lambda: self.canvas.document.replace_mask(
            np.zeros(self.canvas.document.shape, np.uint8), "clear mask"))
        tools = self.menuBar().addMenu("&Tools")
        tools.addActions(list(self.controls.tool_actions.values()))
        tools.addSeparator()
        tools.addActions([self.controls.smaller_action, self.controls.bigger_action])
        view = self.menuBar().addMenu("&View")
        view.addActions([self.controls.fit_action, self.controls.actual_size_action,
                         self.controls.cycle_display_action])

    def _ask_open_mask(self) -> None:
        if self._discard_ok():
            path, _ = QFileDialog.getOpenFileName(self, "Open ID mask", str(self._folder()), _MASK_FILTER)
            if path:
                self.open_mask(path)

    def _ask_open_photo(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open photo", str(self._folder()), _PHOTO_FILTER)
        if path:
            self.open_photo(path)

    def _save_mask_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save ID mask", str(self._folder() / "mask.png"), "PNG (*.png)")
        if not path:
            return False
        return self.save_mask(path if path.lower().endswith(".png") else path + ".png")

    def _ask_export(self) -> None:
        stem = self._mask_path.stem if self._mask_path else "mask"
        path, _ = QFileDialog.getSaveFileName(self, "Export colour preview", str(self._folder() / f"{stem}_color.png"),
                                              "PNG (*.png);;JPEG (*.jpg)")
        if path:
            self.export_preview(path)

    def _folder(self) -> Path:
        return self._mask_path.parent if self._mask_path else Path.cwd()

    def _error(self, title: str, text: str) -> None:
        QMessageBox.critical(self, title, text)

    def _confirm(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text) == QMessageBox.StandardButton.Yes

    def _discard_ok(self) -> bool:
        """Ask what to do with unsaved changes; False means cancel."""
        if not self.is_modified():
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", "Save the changes to the mask first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save_mask()
        return answer == QMessageBox.StandardButton.Discard

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._discard_ok():
            event.accept()
        else:
            event.ignore()

    # -- status ------------------------------------------------------------------------------
    def _mark_saved(self) -> None:
        self._saved_mask = self.canvas.document.mask.copy()
        self._update_title()

    def _update_title(self) -> None:
        name = self._mask_path.name if self._mask_path else "untitled mask"
        self.setWindowTitle(f"{name}[*] - FENeRF Painter")
        self.setWindowModified(self.is_modified())

    def _show_hover(self, x: int, y: int, label: int) -> None:
        self._hover_label.setText("" if label < 0 else f"x {x}  y {y}   {label}: {NAMES[label]}")
