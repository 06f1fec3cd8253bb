"""The inversion panel: preset, whether to tune the generator after the codes, start / cancel,
re-invert the geometry after a mask edit, live loss and mIoU curves and a live preview of the
current fit (the tuning stage's curves continue the code fit's)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QPixmap
from PyQt6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from fenerf_app.errors import attempt, show_error
from fenerf_app.portrait import Portrait
from fenerf_app.session import StudioSession
from fenerf_app.viewport import to_qimage
from models.labels import colorize

LOSS_COLOURS = {"total": "#eeeeee", "seg": "#4fc3f7", "img": "#ffb74d", "percept": "#ba68c8", "norm": "#81c784",
                "edges": "#e57373", "locality": "#fff176", "shape": "#a1887f"}
PREVIEW_SIDE = 96


def preview_strip(crop: np.ndarray | None, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[target | render | rendered mask] at PREVIEW_SIDE pixels each."""
    import cv2
    side = PREVIEW_SIDE
    parts = [] if crop is None else [cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)]
    parts.append(cv2.resize(rgb, (side, side), interpolation=cv2.INTER_LINEAR))
    parts.append(cv2.resize(colorize(mask), (side, side), interpolation=cv2.INTER_NEAREST))
    return np.concatenate(parts, axis=1)


class InversionPanel(QWidget):
    """Runs inversions of the current portrait through the session and shows their progress."""

    def __init__(self, session: StudioSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.presets: dict = {}
        self.tune_presets: dict = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        self.preset_combo = QComboBox()
        self.preset_combo.setToolTip("Inversion settings (fast and quick are tuned for a CPU)")
        row.addWidget(QLabel("Preset"))
        row.addWidget(self.preset_combo, 1)
        layout.addLayout(row)
        self.tune_check = QCheckBox("Tune the generator to the photo")
        self.tune_check.setChecked(True)
        self.tune_check.setToolTip("After fitting the codes, tune the model's weights around them so the face is "
                                   "the photo's (pivotal tuning); off: codes only, as the official tool")
        layout.addWidget(self.tune_check)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Invert")
        self.start_button.setToolTip("Fit the codes to the photo and its mask")
        self.reinvert_button = QPushButton("Re-invert geometry")
        self.reinvert_button.setToolTip("After painting an edit: move only the geometry towards the new mask")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop; the best codes so far are kept")
        self.start_button.clicked.connect(lambda: self.start(geometry_only=False))
        self.reinvert_button.clicked.connect(lambda: self.start(geometry_only=True))
        self.cancel_button.clicked.connect(lambda: session.cancel("invert"))
        for button in (self.start_button, self.reinvert_button, self.cancel_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.status = QLabel("Not running")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumHeight(PREVIEW_SIDE)
        layout.addWidget(self.preview)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setMinimumHeight(220)
        self.loss_plot = self.plots.addPlot(row=0, col=0, title="losses")
        self.loss_plot.setLogMode(y=True)
        self.loss_plot.addLegend(offset=(5, -5), colCount=3, labelTextSize="8pt")
        self.miou_plot = self.plots.addPlot(row=1, col=0, title="mIoU (present classes)")
        self.miou_plot.setYRange(0, 1)
        self.loss_curves = {k: self.loss_plot.plot(pen=pg.mkPen(c, width=1.5), name=k, connect="finite")
                            for k, c in LOSS_COLOURS.items()}
        self.miou_curve = self.miou_plot.plot(pen=pg.mkPen("#4fc3f7", width=2), symbol="o", symbolSize=4)
        layout.addWidget(self.plots, 1)
        self._history: dict[str, list] = {}
        self._offset, self._phase = 0, "fitting the codes"
        self._load_presets()
        session.inversionRecord.connect(self._on_record)
        session.taskStarted.connect(lambda kind, text: self._on_started(text) if kind == "invert" else None)
        session.taskEnded.connect(lambda kind, state: self._on_ended(state) if kind == "invert" else None)
        session.currentChanged.connect(lambda _p: self._update_buttons())
        session.codesChanged.connect(lambda _p: self._update_buttons())
        session.modelChanged.connect(lambda _m: self._update_buttons())
        self._update_buttons()

    def _load_presets(self) -> None:
        try:
            from models.invert.presets import DEFAULT_PRESET, PRESETS
        except ModuleNotFoundError:
            self.preset_combo.addItem("(inversion is not available in this build)")
            self.preset_combo.setEnabled(False)
            return
        from models.invert.tune_settings import TUNE_PRESETS
        for name, settings in PRESETS.items():
            self.add_preset(name, settings, TUNE_PRESETS.get(name))
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(DEFAULT_PRESET))

    def add_preset(self, name: str, settings, tune=None) -> None:
        """Offer another preset (InversionSettings, and the TuneSettings that go with it) and select it."""
        self.presets[name] = settings
        if tune is not None:
            self.tune_presets[name] = tune
        text = f"{name}: {settings.iterations} iterations at {settings.size} px"
        self.preset_combo.addItem(text, name)
        self.preset_combo.setCurrentIndex(self.preset_combo.count() - 1)

    def settings(self):
        """The chosen preset's settings."""
        return self.presets.get(self.preset_combo.currentData())

    # -- actions -----------------------------------------------------------------------------
    def start(self, geometry_only: bool) -> None:
        settings = self.settings()
        if settings is None:
            show_error(self, "Cannot invert", "inversion is not available in this build (models/invert is missing)")
            return
        title = "Cannot re-invert the geometry" if geometry_only else "Cannot invert"
        attempt(self, title, self.session.invert, settings, geometry_only, self.tune_preset())

    def tune_preset(self):
        """The tuning settings that go with the chosen inversion preset (the `fast` ones for a preset
        without its own), None when tuning is off."""
        if not self.tune_check.isChecked():
            return None
        return self.tune_presets.get(self.preset_combo.currentData(), self.tune_presets.get("fast"))

    def _update_buttons(self) -> None:
        running = self.session.busy("invert")
        portrait = self.session.current
        ready = portrait is not None and self.session.model is not None and self.settings() is not None
        self.start_button.setEnabled(ready and not running and portrait.crop is not None)
        self.reinvert_button.setEnabled(ready and not running and portrait.codes is not None)
        self.cancel_button.setEnabled(running)
        self.preset_combo.setEnabled(not running and self.settings() is not None)
        self.tune_check.setEnabled(not running)

    def _on_started(self, text: str) -> None:
        self._history = {"iteration": [], **{k: [] for k in LOSS_COLOURS}, "eval_iteration": [], "miou": []}
        self._offset, self._phase = 0, "fitting the codes"
        for curve in (*self.loss_curves.values(), self.miou_curve):
            curve.setData([], [])
        self.status.setText(f"{text}...")
        self._update_buttons()

    def _on_ended(self, state: str) -> None:
        last = self._history.get("miou") or []
        best = f", best mIoU {max(last):.3f}" if last else ""
        self.status.setText({"finished": "Done", "cancelled": "Cancelled", "failed": "Failed"}.get(state, state) + best)
        self._update_buttons()

    def _on_record(self, portrait: Portrait, record) -> None:
        history = self._history
        if record.iteration == 0 and history["eval_iteration"]:        # the tuning stage begins
            self._offset, self._phase = history["eval_iteration"][-1], "tuning the generator"
        iteration = self._offset + record.iteration
        if record.losses:
            history["iteration"].append(iteration)
            for key in LOSS_COLOURS:                  # a log axis: terms that are 0 (unused, or the
                value = record.losses.get(key, 0.0)   # norm at the start) are left out of the curve
                history[key].append(value if value > 0 else np.nan)
            for key, curve in self.loss_curves.items():
                if not np.isnan(history[key]).all():
                    curve.setData(history["iteration"], history[key])
        if record.miou is not None:
            history["eval_iteration"].append(iteration)
            history["miou"].append(record.miou)
            self.miou_curve.setData(history["eval_iteration"], history["miou"])
        if record.preview is not None:
            strip = preview_strip(portrait.crop, record.preview.rgb, record.preview.mask)
            self.preview.setPixmap(QPixmap.fromImage(to_qimage(strip)))
        miou = f", mIoU {record.miou:.3f}" if record.miou is not None else ""
        psnr = f", PSNR {record.losses['psnr']:.2f} dB" if "psnr" in record.losses else ""
        loss = f"loss {record.losses['total']:.4f}" if "total" in record.losses else "starting"
        self.status.setText(f"{portrait.name}, {self._phase}: iteration {record.iteration}, {loss}{miou}{psnr}, "
                            f"{record.elapsed:.1f} s")
