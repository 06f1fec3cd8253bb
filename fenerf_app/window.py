"""Main window (first version: loads a model and shows one render; the full app replaces it)."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage, QPixmap
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QMessageBox, QWidget


def to_pixmap(array: np.ndarray, scale: int = 256) -> QPixmap:
    array = np.ascontiguousarray(array)
    h, w = array.shape[:2]
    image = QImage(array.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(scale, scale, Qt.AspectRatioMode.KeepAspectRatio)


class MainWindow(QMainWindow):
    def __init__(self, model_path: str | None = None):
        super().__init__()
        self.setWindowTitle("FENeRF Studio")
        self.image_label, self.mask_label = QLabel(), QLabel()
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(self.image_label)
        layout.addWidget(self.mask_label)
        self.setCentralWidget(central)
        self._show_first_render(model_path)

    def _show_first_render(self, model_path: str | None) -> None:
        from models.field.latents import codes_for_seeds
        from models.io.errors import CheckpointError
        from models.io.model import load_model, resolve_model_path
        from models.render.options import RenderOptions
        from models.render.renderer import render
        try:
            model = load_model(resolve_model_path(model_path))
        except CheckpointError as exc:
            QMessageBox.critical(self, "Cannot open model", str(exc))
            return
        codes = codes_for_seeds(model.generator, [0], model.render_defaults.get("psi", 0.7))
        result = render(model.generator, codes, opts=RenderOptions(img_size=64, num_steps=12))
        self.image_label.setPixmap(to_pixmap(result.rgb_uint8()))
        self.mask_label.setPixmap(to_pixmap(result.mask_rgb()))
        self.statusBar().showMessage(f"{model.name} ({model.kind})")
