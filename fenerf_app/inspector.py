"""The latent inspector: the current portrait's geometry and appearance codes, truncation psi,
per-layer frequency / phase views, random / interpolate / reset, and copying another
portrait's appearance. Every change goes through the session."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                             QSlider, QSpinBox, QVBoxLayout, QWidget)

from fenerf_app.errors import attempt
from fenerf_app.portrait import Portrait
from fenerf_app.session import StudioSession

CODES = (("geometry", "geo"), ("appearance", "app"))


def layer_arrays(codes, prefix: str, layers: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and phase shifts of one code as (layers, hidden) arrays."""
    freq = getattr(codes, f"{prefix}_freq")[0].detach().cpu().numpy()
    phase = getattr(codes, f"{prefix}_phase")[0].detach().cpu().numpy()
    return freq.reshape(layers, -1), phase.reshape(layers, -1)


class LatentInspector(QWidget):
    """Shows and edits the current portrait's codes."""

    def __init__(self, session: StudioSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel()
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        layout.addLayout(self._build_view_controls())
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setMinimumHeight(240)
        self.heatmap_plot = self.plots.addPlot(row=0, col=0, title="frequencies | phase shifts (rows = layers)")
        self.heatmap = pg.ImageItem(axisOrder="row-major")
        self.heatmap.setColorMap(pg.colormap.get("viridis"))
        self.heatmap_plot.addItem(self.heatmap)
        self.heatmap_plot.invertY(True)
        self.heatmap_plot.hideAxis("bottom")
        self.layer_plot = self.plots.addPlot(row=1, col=0, title="layer")
        self.layer_plot.addLegend(offset=(-5, 5), colCount=3)
        self.curves = {
            "freq": self.layer_plot.plot(pen=pg.mkPen("#4fc3f7", width=1.5), name="frequency"),
            "phase": self.layer_plot.plot(pen=pg.mkPen("#ffb74d", width=1.5), name="phase shift"),
            "avg_freq": self.layer_plot.plot(pen=pg.mkPen((150, 150, 150), style=Qt.PenStyle.DashLine),
                                             name="average"),
        }
        layout.addWidget(self.plots, 1)
        layout.addWidget(self._build_edit_controls())
        session.currentChanged.connect(lambda _p: self.refresh())
        session.codesChanged.connect(self._on_codes)
        session.portraitsChanged.connect(self._fill_portrait_lists)
        session.modelChanged.connect(lambda _m: self._on_model())
        self.refresh()

    # -- construction ------------------------------------------------------------------------
    def _build_view_controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.code_combo = QComboBox()
        for text, prefix in CODES:
            self.code_combo.addItem(f"{text} code", prefix)
        self.code_combo.currentIndexChanged.connect(lambda _i: self._on_code_choice())
        self.layer_spin = QSpinBox()
        self.layer_spin.setPrefix("layer ")
        self.layer_spin.valueChanged.connect(lambda _v: self._draw())
        row.addWidget(self.code_combo, 1)
        row.addWidget(self.layer_spin)
        return row

    def _build_edit_controls(self) -> QWidget:
        box = QGroupBox("Edit codes")
        form = QFormLayout(box)
        self.psi_slider = QSlider(Qt.Orientation.Horizontal)
        self.psi_slider.setRange(0, 150)
        self.psi_slider.setToolTip("Truncation towards the average face (1 = as inverted)")
        self.psi_label = QLabel()
        self.psi_slider.valueChanged.connect(lambda v: self.psi_label.setText(f"{v / 100:.2f}"))
        self.psi_slider.sliderReleased.connect(self._apply_psi)
        self.psi_slider.valueChanged.connect(lambda _v: None if self.psi_slider.isSliderDown() else self._apply_psi())
        psi_row = QHBoxLayout()
        psi_row.addWidget(self.psi_slider, 1)
        psi_row.addWidget(self.psi_label)
        form.addRow("psi", psi_row)

        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 99_999)
        self.geometry_check, self.appearance_check = QCheckBox("geometry"), QCheckBox("appearance")
        self.geometry_check.setChecked(True)
        self.appearance_check.setChecked(True)
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("Replace the ticked codes by those of the seed")
        self.geometry_check.setToolTip("Random and interpolate change the geometry code")
        self.appearance_check.setToolTip("Random and interpolate change the appearance code")
        self.random_button.clicked.connect(self._random)
        random_row = QHBoxLayout()
        random_row.addWidget(self.seed_spin, 1)
        random_row.addWidget(self.random_button)
        form.addRow("seed", random_row)
        which_row = QHBoxLayout()
        which_row.addWidget(self.geometry_check)
        which_row.addWidget(self.appearance_check)
        form.addRow("codes", which_row)

        self.interp_combo = QComboBox()
        self.interp_combo.setPlaceholderText("another portrait")
        self.interp_slider = QSlider(Qt.Orientation.Horizontal)
        self.interp_slider.setRange(0, 100)
        self.interp_slider.setToolTip("0 = this portrait's reset point, 1 = the other portrait")
        self.interp_slider.sliderReleased.connect(self._interpolate)
        interp_row = QHBoxLayout()
        interp_row.addWidget(self.interp_combo, 1)
        interp_row.addWidget(self.interp_slider, 1)
        form.addRow("towards", interp_row)

        self.source_combo = QComboBox()
        self.source_combo.setPlaceholderText("another portrait")
        self.copy_button = QPushButton("Copy appearance")
        self.copy_button.clicked.connect(self._copy)
        copy_row = QHBoxLayout()
        copy_row.addWidget(self.source_combo, 1)
        copy_row.addWidget(self.copy_button)
        form.addRow("from", copy_row)

        self.reset_button = QPushButton("Reset codes")
        self.reset_button.setToolTip("Back to the codes of the last inversion (psi 1)")
        self.reset_button.clicked.connect(lambda: attempt(self, "Cannot reset", self.session.reset_codes))
        form.addRow(self.reset_button)
        return box

    # -- session -> view ---------------------------------------------------------------------
    def _on_model(self) -> None:
        self.refresh()

    def _on_codes(self, portrait: Portrait) -> None:
        if portrait is self.session.current:
            self.refresh()

    def _fill_portrait_lists(self) -> None:
        current = self.session.current
        for combo in (self.interp_combo, self.source_combo):
            chosen = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for portrait in self.session.portraits.values():
                if portrait is not current:
                    combo.addItem(portrait.name, portrait.id)
            index = combo.findData(chosen)
            combo.setCurrentIndex(max(index, 0))
            combo.blockSignals(False)
        others = self.interp_combo.count() > 0
        self.interp_slider.setEnabled(others and self._has_codes())
        self.copy_button.setEnabled(others and self._has_codes())

    def _has_codes(self) -> bool:
        current = self.session.current
        return current is not None and current.codes is not None and self.session.model is not None

    def refresh(self) -> None:
        """Show the current portrait's codes and settings."""
        self._fill_portrait_lists()
        portrait = self.session.current
        has = self._has_codes()
        for widget in (self.psi_slider, self.random_button, self.reset_button, self.layer_spin, self.code_combo):
            widget.setEnabled(has or widget is self.random_button and portrait is not None)
        if portrait is None:
            self.title.setText("No portrait")
        elif not has:
            self.title.setText(f"<b>{portrait.name}</b>: no codes yet (invert it, or press Random)")
        else:
            self.title.setText(f"<b>{portrait.name}</b>: psi {portrait.psi:.2f}"
                               + ("" if portrait.inversion is None else ", inverted"))
            self.psi_slider.blockSignals(True)
            self.psi_slider.setValue(round(portrait.psi * 100))
            self.psi_slider.blockSignals(False)
            self.psi_label.setText(f"{portrait.psi:.2f}")
        self._on_code_choice()

    def _layers(self, prefix: str) -> int:
        cfg = self.session.model.generator.cfg
        return cfg.geo_layers if prefix == "geo" else cfg.app_layers

    def _on_code_choice(self) -> None:
        if self._has_codes():
            self.layer_spin.setRange(0, self._layers(self.code_combo.currentData()) - 1)
        self._draw()

    def _draw(self) -> None:
        if not self._has_codes():
            self.heatmap.clear()
            for curve in self.curves.values():
                curve.setData([], [])
            return
        prefix = self.code_combo.currentData()
        layers = self._layers(prefix)
        portrait = self.session.current
        freq, phase = layer_arrays(portrait.effective_codes(self.session.average_codes()), prefix, layers)
        avg_freq, _ = layer_arrays(self.session.average_codes(), prefix, layers)
        self.heatmap.setImage(np.concatenate([freq, phase], axis=1), autoLevels=True)
        layer = self.layer_spin.value()
        units = np.arange(freq.shape[1])
        self.curves["freq"].setData(units, freq[layer])
        self.curves["phase"].setData(units, phase[layer])
        self.curves["avg_freq"].setData(units, avg_freq[layer])
        self.layer_plot.setTitle(f"{dict((p, t) for t, p in CODES)[prefix]} layer {layer}: raw FiLM codes per unit")

    # -- view -> session ---------------------------------------------------------------------
    def _apply_psi(self) -> None:
        portrait = self.session.current
        value = self.psi_slider.value() / 100
        if portrait is not None and portrait.codes is not None and abs(portrait.psi - value) > 1e-9:
            attempt(self, "Cannot change psi", self.session.set_psi, value)

    def _random(self) -> None:
        attempt(self, "Cannot randomise", self.session.randomize, self.seed_spin.value(),
                self.geometry_check.isChecked(), self.appearance_check.isChecked())
        self.seed_spin.setValue(self.seed_spin.value() + 1)

    def _interpolate(self) -> None:
        other = self.interp_combo.currentData()
        if other is not None:
            attempt(self, "Cannot interpolate", self.session.interpolate, other, self.interp_slider.value() / 100,
                    self.geometry_check.isChecked(), self.appearance_check.isChecked())

    def _copy(self) -> None:
        source = self.source_combo.currentData()
        if source is not None:
            attempt(self, "Cannot copy the appearance", self.session.copy_appearance, source)
