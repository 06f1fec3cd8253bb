"""PaintCanvas: a Qt view of a LabelDocument that paints with the mouse.

The canvas keeps a 32-bit composite of photo and colour mask and refreshes only the pixels a
document change touched. Image point ``p`` is drawn at ``offset + p * zoom`` in the widget.
Mouse: left paints with the current tool, right or Alt+left picks the label under the cursor,
middle-drag or Space+left-drag pans, the wheel zooms around the cursor.
"""
from __future__ import annotations

import math

import numpy as np
from PyQt6.QtCore import QPointF, QRect, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import (QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen,
                         QResizeEvent, QWheelEvent)
from PyQt6.QtWidgets import QWidget

from models.labels import PALETTE
from painter.document import LabelDocument, MaskListener, StateListener
from painter.tools import Box

DISPLAY_MODES: tuple[str, ...] = ("overlay", "mask", "photo")
ZOOM_STEP = 1.25           # zoom factor per wheel notch (120 units of angle delta)
MIN_ZOOM, MAX_ZOOM = 0.05, 64.0
_BACKGROUND = QColor(48, 48, 52)
_PALETTE_BGR = np.ascontiguousarray(PALETTE[:, ::-1])


class _Link:
    """The canvas's subscription to a document, undone when the canvas is destroyed."""

    def __init__(self) -> None:
        self.document: LabelDocument | None = None
        self.on_mask: MaskListener | None = None
        self.on_state: StateListener | None = None

    def attach(self, document: LabelDocument, on_mask: MaskListener, on_state: StateListener) -> None:
        self.detach()
        self.document, self.on_mask, self.on_state = document, on_mask, on_state
        document.subscribe(on_mask)
        document.subscribe_state(on_state)

    def detach(self, *_args) -> None:
        if self.document is not None:
            self.document.unsubscribe(self.on_mask)
            self.document.unsubscribe_state(self.on_state)
        self.document = self.on_mask = self.on_state = None


class PaintCanvas(QWidget):
    """Shows a LabelDocument over its photo and turns mouse gestures into document edits."""

    maskChanged = pyqtSignal()                 # an edit was committed, undone or redone
    labelChanged = pyqtSignal(int)
    toolChanged = pyqtSignal(str)
    brushRadiusChanged = pyqtSignal(int)
    historyChanged = pyqtSignal(bool, bool)    # can_undo, can_redo
    zoomChanged = pyqtSignal(float)
    opacityChanged = pyqtSignal(float)
    displayModeChanged = pyqtSignal(str)
    hovered = pyqtSignal(int, int, int)        # x, y, label under the cursor; -1s outside the image

    def __init__(self, document: LabelDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMinimumSize(160, 160)
        self._zoom = 1.0
        self._offset = QPointF(0.0, 0.0)
        self._auto_fit = True
        self._opacity = 0.5
        self._mode = "overlay"
        self._painting = False
        self._pan_from: QPointF | None = None
        self._space_down = False
        self._cursor: QPointF | None = None      # widget position of the mouse, for the brush outline
        self._link = _Link()
        self.destroyed.connect(self._link.detach)
        self.set_document(document)

    # -- document ----------------------------------------------------------------------------
    @property
    def document(self) -> LabelDocument:
        return self._doc

    def set_document(self, document: LabelDocument) -> None:
        """Show and edit another document (the view is fitted to it)."""
        self._doc = document
        self._link.attach(document, self._on_mask, self._on_state)
        height, width = document.shape
        buffer = np.zeros((height, width, 4), np.uint8)     # B, G, R, 255: the layout of Format_RGB32
        buffer[..., 3] = 255
        self._image = QImage(buffer.data, width, height, width * 4, QImage.Format.Format_RGB32)
        self._buffer = buffer                               # shared with the QImage: keep it alive
        self._photo_bgr = None if document.photo is None else np.ascontiguousarray(document.photo[..., ::-1])
        self._recomposite(Box(0, 0, height, width))
        self.fit_to_view()
        self.labelChanged.emit(document.label)
        self.toolChanged.emit(document.tool)
        self.brushRadiusChanged.emit(document.brush_radius)
        self.historyChanged.emit(document.can_undo, document.can_redo)

    def _on_mask(self, box: Box) -> None:
        self._recomposite(box)
        self.update(self._widget_rect(box))

    def _on_state(self, name: str) -> None:
        doc = self._doc
        if name == "label":
            self.labelChanged.emit(doc.label)
        elif name == "tool":
            self.toolChanged.emit(doc.tool)
            self.update()
        elif name == "brush_radius":
            self.brushRadiusChanged.emit(doc.brush_radius)
            self.update()
        elif name == "history":
            self.historyChanged.emit(doc.can_undo, doc.can_redo)
            self.maskChanged.emit()
        elif name == "photo":
            self._photo_bgr = None if doc.photo is None else np.ascontiguousarray(doc.photo[..., ::-1])
            self._refresh_all()

    # -- settings (forwarded to the document) ------------------------------------------------
    def set_tool(self, name: str) -> None:
        self._doc.tool = name

    def set_label(self, label: int) -> None:
        self._doc.label = label

    def set_brush_radius(self, radius: int) -> None:
        self._doc.brush_radius = radius

    # -- display -----------------------------------------------------------------------------
    @property
    def overlay_opacity(self) -> float:
        return self._opacity

    def set_overlay_opacity(self, opacity: float) -> None:
        """Weight of the colour mask over the photo in overlay mode, 0 (photo) .. 1 (mask)."""
        opacity = min(max(float(opacity), 0.0), 1.0)
        if opacity != self._opacity:
            self._opacity = opacity
            self._refresh_all()
            self.opacityChanged.emit(opacity)

    @property
    def display_mode(self) -> str:
        return self._mode

    def set_display_mode(self, mode: str) -> None:
        """``"overlay"`` (blend), ``"mask"`` (colour mask only) or ``"photo"`` (photo only)."""
        if mode not in DISPLAY_MODES:
            raise ValueError(f"unknown display mode {mode!r}; expected one of {', '.join(DISPLAY_MODES)}")
        if mode != self._mode:
            self._mode = mode
            self._refresh_all()
            self.displayModeChanged.emit(mode)

    def composite(self) -> np.ndarray:
        """The displayed image (H, W, 3) RGB at image resolution (a copy)."""
        return self._buffer[..., 2::-1].copy()

    def _refresh_all(self) -> None:
        height, width = self._doc.shape
        self._recomposite(Box(0, 0, height, width))
        self.update()

    def _recomposite(self, box: Box) -> None:
        """Recompute the displayed pixels under ``box`` only."""
        rows, cols = box.slices
        out = self._buffer[rows, cols, :3]
        photo = None if self._photo_bgr is None else self._photo_bgr[rows, cols]
        if self._mode == "photo":
            out[...] = 0 if photo is None else photo
            return
        colour = _PALETTE_BGR[self._doc.mask[rows, cols]]
        if self._mode == "mask" or photo is None:
            out[...] = colour
            return
        weight = round(self._opacity * 256)
        blend = photo.astype(np.uint16) * (256 - weight) + colour.astype(np.uint16) * weight
        out[...] = (blend >> 8).astype(np.uint8)

    # -- view transform ----------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        """Widget pixels per image pixel."""
        return self._zoom

    def map_to_image(self, pos: QPointF) -> tuple[float, float]:
        """Widget position -> image point (x, y)."""
        return ((pos.x() - self._offset.x()) / self._zoom, (pos.y() - self._offset.y()) / self._zoom)

    def map_from_image(self, x: float, y: float) -> QPointF:
        """Image point -> widget position."""
        return QPointF(self._offset.x() + x * self._zoom, self._offset.y() + y * self._zoom)

    def _widget_rect(self, box: Box) -> QRect:
        top_left = self.map_from_image(box.left, box.top)
        size = QPointF((box.right - box.left) * self._zoom, (box.bottom - box.top) * self._zoom)
        return QRectF(top_left, top_left + size).toAlignedRect().adjusted(-1, -1, 1, 1)

    def fit_to_view(self) -> None:
        """Show the whole image centred, as large as the widget allows; keeps fitting on resize."""
        self._auto_fit = True
        height, width = self._doc.shape
        if self.width() <= 0 or self.height() <= 0:
            return
        self._zoom = min(self.width() / width, self.height() / height)
        self._offset = QPointF((self.width() - width * self._zoom) / 2, (self.height() - height * self._zoom) / 2)
        self.update()
        self.zoomChanged.emit(self._zoom)

    def zoom_at(self, pos: QPointF, factor: float) -> None:
        """Multiply the zoom by ``factor`` keeping the image point under ``pos`` in place."""
        x, y = self.map_to_image(pos)
        self._zoom = min(max(self._zoom * factor, MIN_ZOOM), MAX_ZOOM)
        self._offset = QPointF(pos.x() - x * self._zoom, pos.y() - y * self._zoom)
        self._auto_fit = False
        self.update()
        self.zoomChanged.emit(self._zoom)

    def set_zoom(self, zoom: float) -> None:
        """Set the zoom around the widget centre (1.0 = one widget pixel per image pixel)."""
        self.zoom_at(QPointF(self.width() / 2, self.height() / 2), zoom / self._zoom)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the image by (dx, dy) widget pixels."""
        self._offset += QPointF(dx, dy)
        self._auto_fit = False
        self.update()

    # -- Qt events ---------------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        if self._auto_fit:
            self.fit_to_view()
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        exposed = event.rect()
        painter.fillRect(exposed, _BACKGROUND)
        height, width = self._doc.shape
        x0, y0 = self.map_to_image(QPointF(exposed.topLeft()))
        x1, y1 = self.map_to_image(QPointF(exposed.bottomRight()) + QPointF(1, 1))
        left, top = max(math.floor(x0), 0), max(math.floor(y0), 0)
        right, bottom = min(math.ceil(x1), width), min(math.ceil(y1), height)
        if left < right and top < bottom:
            source = QRectF(left, top, right - left, bottom - top)
            painter.save()
            painter.translate(self._offset)
            painter.scale(self._zoom, self._zoom)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._zoom < 1.0)
            painter.drawImage(source, self._image, source)
            painter.restore()
        self._paint_brush_outline(painter)

    def _brush_outline(self) -> tuple[QPointF, float] | None:
        """Centre and radius in widget pixels of the brush under the mouse, if one is shown."""
        if self._cursor is None or self._pan_from is not None or self._doc.tool not in ("brush", "eraser"):
            return None
        x, y = self.map_to_image(self._cursor)
        centre = self.map_from_image(math.floor(x) + 0.5, math.floor(y) + 0.5)
        return centre, (self._doc.brush_radius + 0.5) * self._zoom

    def _paint_brush_outline(self, painter: QPainter) -> None:
        outline = self._brush_outline()
        if outline is None:
            return
        centre, radius = outline
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(0, 0, 0, 200), 3))
        painter.drawEllipse(centre, radius, radius)
        painter.setPen(QPen(QColor(255, 255, 255), 1))
        painter.drawEllipse(centre, radius, radius)

    def _update_outline(self) -> None:
        outline = self._brush_outline()
        if outline is not None:
            centre, radius = outline
            reach = radius + 3
            self.update(QRectF(centre.x() - reach, centre.y() - reach, 2 * reach, 2 * reach).toAlignedRect())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus()
        button, pos = event.button(), event.position()
        alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_down):
            self._update_outline()
            self._pan_from = pos
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif button == Qt.MouseButton.RightButton or (button == Qt.MouseButton.LeftButton and alt):
            self._doc.pick(*self.map_to_image(pos))
        elif button == Qt.MouseButton.LeftButton:
            self._painting = True
            self._doc.press(*self.map_to_image(pos))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            self.pan_by(delta.x(), delta.y())
            return
        self._update_outline()
        self._cursor = pos
        self._update_outline()
        x, y = self.map_to_image(pos)
        label = self._doc.label_at(x, y)
        if label is None:
            self.hovered.emit(-1, -1, -1)
        else:
            self.hovered.emit(math.floor(x), math.floor(y), label)
        if self._painting:
            self._doc.drag(x, y)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if self._pan_from is not None and button in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.setCursor(Qt.CursorShape.OpenHandCursor if self._space_down else Qt.CursorShape.CrossCursor)
        elif button == Qt.MouseButton.LeftButton and self._painting:
            self._painting = False
            self._doc.release()

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120
        if notches:
            self.zoom_at(event.position(), ZOOM_STEP ** notches)
        event.accept()

    def leaveEvent(self, event) -> None:
        self._update_outline()
        self._cursor = None
        self.hovered.emit(-1, -1, -1)
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            if self._pan_from is None:
                self.setCursor(Qt.CursorShape.CrossCursor)
            return
        super().keyReleaseEvent(event)
