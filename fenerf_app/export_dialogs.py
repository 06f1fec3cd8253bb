"""Export dialogs (multiview images, video, mesh) and the progress dialog of a running export."""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                             QHBoxLayout, QLineEdit, QProgressDialog, QPushButton, QSpinBox, QWidget)

from fenerf_app import exporting
from fenerf_app.errors import UserError
from fenerf_app.workers import Task


def _spin(low: int, high: int, value: int, step: int = 1) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setValue(value)
    return spin


class _ExportDialog(QDialog):
    """Common part: an output path with a Browse button, the form, OK / Cancel."""

    file_filter = ""
    folder = False

    def __init__(self, title: str, default_out: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.form = QFormLayout(self)
        self.out_edit = QLineEdit(str(default_out))
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.out_edit, 1)
        row.addWidget(browse)
        self.form.addRow("Save to", row)
        self._build()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.form.addRow(buttons)

    def _build(self) -> None:
        raise NotImplementedError

    def _browse(self) -> None:
        if self.folder:
            chosen = QFileDialog.getExistingDirectory(self, self.windowTitle(), self.out_edit.text())
        else:
            chosen, _ = QFileDialog.getSaveFileName(self, self.windowTitle(), self.out_edit.text(), self.file_filter)
        if chosen:
            self.out_edit.setText(chosen)

    def out_path(self, suffixes: tuple[str, ...] = ()) -> Path:
        text = self.out_edit.text().strip()
        if not text:
            raise UserError("choose where to save the export")
        path = Path(text).expanduser()
        if suffixes and path.suffix.lower() not in suffixes:
            raise UserError(f"{path.name}: choose a file ending in {' or '.join(suffixes)}")
        return path


class MultiviewDialog(_ExportDialog):
    folder = True

    def _build(self) -> None:
        self.size = _spin(32, 1024, 256, 32)
        self.views = _spin(2, 31, 5)
        self.spread = QDoubleSpinBox()
        self.spread.setRange(0.05, 1.5)
        self.spread.setSingleStep(0.05)
        self.spread.setValue(0.5)
        self.form.addRow("Image size (px)", self.size)
        self.form.addRow("Views", self.views)
        self.form.addRow("Yaw range +- (rad)", self.spread)

    def options(self) -> exporting.MultiviewOptions:
        count, spread = self.views.value(), self.spread.value()
        offsets = tuple(-spread + 2 * spread * i / (count - 1) for i in range(count))
        return exporting.MultiviewOptions(self.out_path(), offsets, self.size.value())


class VideoDialog(_ExportDialog):
    file_filter = "Video (*.mp4 *.gif)"

    def _build(self) -> None:
        self.trajectory = QComboBox()
        self.trajectory.addItems(exporting.trajectories())
        self.frames = _spin(2, 1000, 60)
        self.size = _spin(32, 512, 128, 32)
        self.fps = _spin(1, 60, 25)
        self.form.addRow("Camera path", self.trajectory)
        self.form.addRow("Frames", self.frames)
        self.form.addRow("Frame size (px)", self.size)
        self.form.addRow("Frames per second", self.fps)

    def options(self) -> exporting.VideoOptions:
        return exporting.VideoOptions(self.out_path((".mp4", ".gif")), self.trajectory.currentText(),
                                      self.frames.value(), self.size.value(), fps=self.fps.value())


class MeshDialog(_ExportDialog):
    file_filter = "Mesh (*.ply *.obj *.glb)"

    def _build(self) -> None:
        self.resolution = _spin(16, 512, 128, 16)
        self.level = QDoubleSpinBox()
        self.level.setRange(-100, 1000)
        self.level.setValue(10.0)
        self.level.setToolTip("Density iso-level of the surface")
        self.colour = QComboBox()
        self.colour.addItem("labels (palette colours)", "labels")
        self.colour.addItem("appearance (RGB)", "rgb")
        self.form.addRow("Grid resolution", self.resolution)
        self.form.addRow("Surface level", self.level)
        self.form.addRow("Colour", self.colour)

    def options(self) -> exporting.MeshOptions:
        return exporting.MeshOptions(self.out_path((".ply", ".obj", ".glb")), self.resolution.value(),
                                     self.level.value(), self.colour.currentData())


def progress_dialog(task: Task, title: str, parent: QWidget | None) -> QProgressDialog:
    """A progress dialog following `task`; its Cancel button cancels the task; closes itself at the end."""
    dialog = QProgressDialog(title, "Cancel", 0, 0, parent)
    dialog.setObjectName("exportProgress")
    dialog.setWindowTitle(title)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)

    def progress(done: int, total: int, text: str) -> None:
        dialog.setMaximum(max(total, 0))
        dialog.setValue(min(done, max(total, 0)))
        if text:
            dialog.setLabelText(f"{title}: {text}")
    task.progress.connect(progress)
    dialog.canceled.connect(task.cancel)
    task.ended.connect(dialog.close)
    task.ended.connect(dialog.deleteLater)
    dialog.show()
    return dialog
