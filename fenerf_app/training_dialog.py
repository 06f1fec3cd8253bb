"""The training dialog: a dataset folder chooser that validates, the curriculum, the run folder,
start / stop / resume, live loss plots, the preview grid and the ETA.

The live views follow the run folder (metrics.jsonl, status.json, previews/latest.png, see
models/train/runfolder.py), so they work the same for a run started here or from the CLI.
"""
from __future__ import annotations

import json
from pathlib import Path

import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QPixmap
from PyQt6.QtWidgets import (QDialog, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                             QPushButton, QSpinBox, QSplitter, QVBoxLayout, QWidget, QComboBox)

from fenerf_app.errors import attempt
from fenerf_app.jobs import TrainingRequest
from fenerf_app.session import StudioSession

LOSSES = {"d_img": "#4fc3f7", "d_seg": "#81c784", "g_img": "#ffb74d", "g_seg": "#e57373"}


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


class RunFollower:
    """Reads the complete new lines of a run's metrics.jsonl since the last call."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self.offset = 0

    def new_records(self) -> list[dict]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1                   # a last line without newline is still being written
        self.offset += end
        records = []
        for line in data[:end].splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records


def _folder_row(edit: QLineEdit, browse: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(browse)
    return row


class TrainingDialog(QDialog):
    """Non-modal: training goes on in the background when the dialog is closed."""

    def __init__(self, session: StudioSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Training")
        self.setObjectName("trainingDialog")
        self.session = session
        self.dataset_ok = False
        self._checked_folder = ""
        self.follower: RunFollower | None = None
        self._history: dict[str, list] = {k: [] for k in ("step", *LOSSES)}
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._build_setup())
        splitter.addWidget(self._build_live())
        splitter.setSizes([420, 560])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self.poll)
        session.taskEnded.connect(self._on_task_ended)
        session.taskStarted.connect(lambda kind, _t: self._update_buttons() if kind == "train" else None)
        self.resize(1000, 620)
        self._update_buttons()

    # -- construction ------------------------------------------------------------------------
    def _build_setup(self) -> QWidget:
        box = QGroupBox("Run")
        form = QFormLayout(box)
        self.dataset_edit = QLineEdit()
        self.dataset_edit.setPlaceholderText("folder with celebahq_mask_img/ + celebahq_mask_mask/ (or images/ + masks/)")
        self.dataset_edit.editingFinished.connect(self._dataset_edited)
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse_dataset)
        form.addRow("Dataset", _folder_row(self.dataset_edit, browse))
        self.dataset_status = QLabel("Choose a dataset folder")
        self.dataset_status.setWordWrap(True)
        form.addRow("", self.dataset_status)
        self.curriculum_combo = QComboBox()
        self.curriculum_text = QLabel()
        self.curriculum_text.setWordWrap(True)
        self.curricula_file: Path | None = None
        self.curricula: dict = {}
        self.load_curricula_file(None)
        self.curriculum_combo.currentIndexChanged.connect(lambda _i: self._show_curriculum())
        other = QPushButton("File...")
        other.setToolTip("Read curricula from another TOML file")
        other.clicked.connect(self._browse_curricula)
        row = QHBoxLayout()
        row.addWidget(self.curriculum_combo, 1)
        row.addWidget(other)
        form.addRow("Curriculum", row)
        form.addRow("", self.curriculum_text)
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("new folder for config, metrics, previews and checkpoints")
        self.out_edit.textChanged.connect(lambda _t: self._update_buttons())
        browse_out = QPushButton("Browse...")
        browse_out.clicked.connect(self._browse_out)
        form.addRow("Run folder", _folder_row(self.out_edit, browse_out))
        self.max_steps = QSpinBox()
        self.max_steps.setRange(0, 10_000_000)
        self.max_steps.setSpecialValueText("curriculum end")
        form.addRow("Stop at step", self.max_steps)
        self.log_every, self.preview_every = QSpinBox(), QSpinBox()
        for spin, value in ((self.log_every, 10), (self.preview_every, 100)):
            spin.setRange(1, 100_000)
            spin.setValue(value)
        form.addRow("Log every", self.log_every)
        form.addRow("Preview every", self.preview_every)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.resume_button = QPushButton("Resume")
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.session.stop_training)
        self.resume_button.clicked.connect(self.resume)
        for button in (self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(button)
        form.addRow(buttons)
        self._show_curriculum()
        return box

    def _build_live(self) -> QWidget:
        box = QGroupBox("Progress")
        layout = QVBoxLayout(box)
        self.status_label = QLabel("Not running")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self.plot = pg.PlotWidget(title="losses (logged means)")
        self.plot.addLegend(offset=(-5, 5))
        self.curves = {k: self.plot.plot(pen=pg.mkPen(c, width=1.5), name=k) for k, c in LOSSES.items()}
        layout.addWidget(self.plot, 1)
        self.preview = QLabel("The preview grid appears here (rows: fixed latents; image and mask, front and turned)")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setWordWrap(True)
        self.preview.setMinimumHeight(160)
        layout.addWidget(self.preview, 1)
        return box

    def load_curricula_file(self, path: str | Path | None) -> bool:
        """Offer the curricula of a TOML file (None: the built-in ones); False if it cannot be read."""
        from models.train.curriculum import read_curricula
        curricula = attempt(self, "Cannot read the curricula", read_curricula, path)
        if curricula is None:
            return False
        self.curricula, self.curricula_file = curricula, None if path is None else Path(path)
        self.curriculum_combo.clear()
        for name in curricula:
            self.curriculum_combo.addItem(name, name)
        index = self.curriculum_combo.findData("demo_finetune")
        self.curriculum_combo.setCurrentIndex(max(index, 0))
        return True

    def _browse_curricula(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Curricula file", "", "TOML (*.toml)")
        if path:
            self.load_curricula_file(path)

    def _show_curriculum(self) -> None:
        curriculum = self.curricula.get(self.curriculum_combo.currentData())
        if curriculum is None:
            self.curriculum_text.setText("")
            return
        sizes = " -> ".join(f"{s.img_size} px" for s in curriculum.stages)
        init = "" if curriculum.generator is not None else " Starts from the open model (fine-tuning)."
        self.curriculum_text.setText(f"{curriculum.description} Stages: {sizes}; ends at step {curriculum.end_step}.{init}")

    # -- inputs ------------------------------------------------------------------------------
    def _browse_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder", self.dataset_edit.text())
        if folder:
            self.set_dataset(folder)

    def _browse_out(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Run folder", self.out_edit.text())
        if folder:
            self.set_run_folder(folder)

    def _dataset_edited(self) -> None:
        if self.dataset_edit.text().strip() != self._checked_folder:
            self.set_dataset(self.dataset_edit.text())

    def set_dataset(self, folder: str | Path) -> None:
        """Choose a dataset folder and validate it on a worker (the label shows the result)."""
        folder = str(folder).strip()
        self._checked_folder = folder
        self.dataset_edit.setText(folder)
        self.dataset_ok = False
        self._update_buttons()
        if not folder:
            return
        self.dataset_status.setText("Checking...")
        task = attempt(self, "Cannot check the dataset", self.session.check_dataset, folder)
        if task is not None:
            task.finished.connect(self._dataset_checked)
            task.failed.connect(lambda exc: self._dataset_failed(str(exc)))

    def _dataset_checked(self, report) -> None:
        self.dataset_ok = report.ok or (bool(report.pairs) and not report.problems)
        colour = "#2e7d32" if self.dataset_ok else "#c62828"
        self.dataset_status.setText(f'<span style="color:{colour}">{report.summary()}</span>'.replace("\n", "<br>"))
        self._update_buttons()

    def _dataset_failed(self, message: str) -> None:
        self.dataset_status.setText(f'<span style="color:#c62828">{message}</span>')
        self._update_buttons()

    def set_run_folder(self, folder: str | Path) -> None:
        self.out_edit.setText(str(folder))

    def _request(self, resume: bool) -> TrainingRequest:
        out = Path(self.out_edit.text().strip())
        curriculum = self.curricula.get(self.curriculum_combo.currentData())
        init = None
        if not resume and curriculum is not None and curriculum.generator is None and self.session.model is not None:
            init = self.session.model.path
        settings = {"log_every": self.log_every.value(), "preview_every": self.preview_every.value(),
                    "checkpoint_every": max(self.preview_every.value(), 100)}
        return TrainingRequest(out, None if resume else Path(self.dataset_edit.text().strip()),
                               None if resume else self.curriculum_combo.currentData(), self.curricula_file, init,
                               self.max_steps.value() or None, resume, settings)

    # -- run ---------------------------------------------------------------------------------
    def start(self) -> None:
        if attempt(self, "Cannot start training", self.session.start_training, self._request(False)) is not None:
            self._follow()

    def resume(self) -> None:
        if attempt(self, "Cannot resume training", self.session.start_training, self._request(True)) is not None:
            self._follow()

    def _follow(self) -> None:
        self.follower = RunFollower(Path(self.out_edit.text().strip()))
        self._history = {k: [] for k in ("step", *LOSSES)}
        for curve in self.curves.values():
            curve.setData([], [])
        self.timer.start()

    def poll(self) -> None:
        """Read what the run wrote since the last poll: metrics, status, preview."""
        if self.follower is None:
            return
        from models.train.runfolder import RunFolder
        for record in self.follower.new_records():
            self._history["step"].append(record["step"])
            for key in LOSSES:
                self._history[key].append(float(record.get(key, float("nan"))))
        for key, curve in self.curves.items():
            curve.setData(self._history["step"], self._history[key])
        run = RunFolder(self.follower.path.parent)
        status = run.read_status()
        if status is not None:
            speed = status.get("images_per_s")
            speed_text = "" if speed is None else f", {speed:.1f} images/s"
            self.status_label.setText(f"{status['state']}: step {status['step']} of {status['max_steps']}"
                                      f"{speed_text}, ETA {format_eta(status.get('eta_s'))}"
                                      + (f"\n{status['message']}" if status.get("message") else ""))
        latest = run.previews / "latest.png"
        if latest.is_file():
            pixmap = QPixmap(str(latest))
            if not pixmap.isNull():
                self.preview.setPixmap(pixmap.scaled(self.preview.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                     Qt.TransformationMode.SmoothTransformation))

    @property
    def records(self) -> int:
        """Metrics lines read so far."""
        return len(self._history["step"])

    def _on_task_ended(self, kind: str, _state: str) -> None:
        if kind == "train":
            self.poll()
            self.timer.stop()
        if kind in ("train", "dataset"):
            self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.session.busy("train")
        out = self.out_edit.text().strip()
        has_run = bool(out) and (Path(out) / "config.json").is_file()
        self.start_button.setEnabled(not running and self.dataset_ok and bool(out) and not has_run)
        self.resume_button.setEnabled(not running and has_run)
        self.stop_button.setEnabled(running)
        self.start_button.setToolTip("This folder already holds a run: resume it or choose another folder"
                                     if has_run else "Start a new run in the run folder")
