"""LabelPalette: the 19 CelebAMask-HQ labels as named swatches in the official colours (spec 8.1)."""
from __future__ import annotations

from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QPainter, QPixmap
from PyQt6.QtWidgets import QAbstractButton, QButtonGroup, QGridLayout, QSizePolicy, QToolButton, QWidget

from models.labels import ID, NAMES, NUM_CLASSES, PALETTE

# What the short names stand for, where it is not obvious (spec 8.1).
_MEANINGS = {
    "skin": "face skin", "eye_g": "eyeglasses", "l_eye": "left eye", "r_eye": "right eye",
    "l_brow": "left eyebrow", "r_brow": "right eyebrow", "l_ear": "left ear", "r_ear": "right ear",
    "mouth": "inner mouth", "u_lip": "upper lip", "l_lip": "lower lip", "ear_r": "earring",
    "neck_l": "necklace", "cloth": "clothing",
}
_SWATCH = 18


def label_colour(label: int) -> QColor:
    """The official palette colour of a label id."""
    red, green, blue = (int(v) for v in PALETTE[label])
    return QColor(red, green, blue)


def swatch_icon(label: int, size: int = _SWATCH) -> QIcon:
    """A square icon filled with the label's colour, with a grey border so black shows."""
    pixmap = QPixmap(size, size)
    pixmap.fill(label_colour(label))
    painter = QPainter(pixmap)
    painter.setPen(QColor(128, 128, 128))
    painter.drawRect(0, 0, size - 1, size - 1)
    painter.end()
    return QIcon(pixmap)


def label_tooltip(label: int) -> str:
    """'id 4: l_eye (left eye), #3333ff'."""
    name = NAMES[label]
    meaning = f" ({_MEANINGS[name]})" if name in _MEANINGS else ""
    red, green, blue = (int(v) for v in PALETTE[label])
    return f"id {label}: {name}{meaning}, #{red:02x}{green:02x}{blue:02x}"


class LabelPalette(QWidget):
    """One checkable swatch button per label; clicking one emits ``labelSelected(id)``."""

    labelSelected = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None, columns: int = 2) -> None:
        super().__init__(parent)
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        layout = QGridLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        rows = -(-NUM_CLASSES // columns)
        for label, name in enumerate(NAMES):
            button = QToolButton(self)
            button.setText(f"{label:>2}  {name}")
            button.setIcon(swatch_icon(label))
            button.setIconSize(QSize(_SWATCH, _SWATCH))
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setToolTip(label_tooltip(label))
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setStyleSheet("QToolButton { text-align: left; padding: 2px; }"
                                 "QToolButton:checked { border: 2px solid palette(highlight);"
                                 " font-weight: bold; background: palette(midlight); }")
            self._group.addButton(button, label)
            layout.addWidget(button, label % rows, label // rows)
        layout.setRowStretch(rows, 1)
        self._group.idClicked.connect(self.labelSelected)
        self.set_current(ID["skin"])

    def set_current(self, label: int) -> None:
        """Highlight ``label`` without emitting ``labelSelected``."""
        self._group.button(label).setChecked(True)

    def current(self) -> int:
        """The highlighted label id."""
        return self._group.checkedId()

    def button(self, label: int) -> QAbstractButton:
        """The swatch button of a label id."""
        return self._group.button(label)
