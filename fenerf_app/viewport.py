"""The 3D viewport: drag to orbit, wheel to zoom, double-click to reset; image / mask / depth /
overlay display modes; progressive quality (bake 32^3 -> 64^3 -> 128^3) with an indicator.

Rendering goes through a `RenderScheduler` (latest request wins); switching the display mode
only changes what is drawn from the last frame.
"""
from __future__ import annotations

import math

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent, QWheelEvent
from PyQt6.QtWidgets import QWidget

from fenerf_app.render_scheduler import Camera, Frame, RenderScheduler, Scene
from models.bake.camera import DRAG_RADIANS_PER_PIXEL
from models.render.camera import FRONT
from models.io.images import depth_to_color
from models.labels import colorize

MODES: tuple[str, ...] = ("image", "mask", "depth", "overlay")
_BACKGROUND = QColor(30, 30, 34)


def frame_image(frame: Frame, mode: str) -> np.ndarray:
    """The (R, R, 3) uint8 picture of a frame in a display mode."""
    if mode == "image":
        return frame.rgb
    if mode == "mask":
        return colorize(frame.mask)
    if mode == "depth":
        return depth_to_color(frame.depth, frame.opacity)
    if mode == "overlay":
        return ((frame.rgb.astype(np.uint16) + colorize(frame.mask)) // 2).astype(np.uint8)
    raise ValueError(f"unknown display mode {mode!r}; expected one of {', '.join(MODES)}")


def to_qimage(array: np.ndarray) -> QImage:
    """An owning QImage copy of an (H, W, 3) uint8 array."""
    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    return QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class Viewport(QWidget):
    """Shows the current scene from an orbit camera."""

    cameraChanged = pyqtSignal(object)      # Camera
    frameShown = pyqtSignal(object)         # Frame
    modeChanged = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(200, 200)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.setToolTip("Drag to orbit, wheel to zoom, double-click to reset the view")
        self.scheduler = RenderScheduler(parent=self)
        self.scheduler.frameReady.connect(self._show_frame)
        self.scheduler.busyChanged.connect(lambda _busy: self.update())
        self._scene: Scene | None = None
        self._home = Camera()
        self._camera = Camera()
        self._mode = "image"
        self._frame: Frame | None = None
        self._image: QImage | None = None
        self._drag_from: QPointF | None = None
        self.message = "No portrait: open a photo or create a random portrait"

    # -- state -------------------------------------------------------------------------------
    @property
    def camera(self) -> Camera:
        return self._camera

    @property
    def frame(self) -> Frame | None:
        """The frame on screen."""
        return self._frame

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def scene(self) -> Scene | None:
        """What the view shows (None: a message)."""
        return self._scene

    def set_scene(self, scene: Scene | None, message: str = "") -> None:
        """Show other content (None: nothing, with `message`); the camera is kept."""
        if scene is not None and (self._scene is None or scene.generator is not self._scene.generator):
            self._home = Camera(fov=float(scene.render_defaults.get("fov", 12.0)))
            if self._scene is None:
                self._camera = self._home
        self._scene = scene
        if scene is None:
            self._frame, self._image = None, None
            self.message = message
            self.update()
        self.scheduler.request(scene, self._camera)

    def set_camera(self, camera: Camera) -> None:
        if camera != self._camera:
            self._camera = camera
            self.cameraChanged.emit(camera)
            self.scheduler.request(self._scene, camera)
            self.update()

    def reset_camera(self) -> None:
        """Back to the frontal view at the model's field of view."""
        self.set_camera(self._home)

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown display mode {mode!r}; expected one of {', '.join(MODES)}")
        if mode != self._mode:
            self._mode = mode
            if self._frame is not None:
                self._image = to_qimage(frame_image(self._frame, mode))
            self.modeChanged.emit(mode)
            self.update()

    def _show_frame(self, frame: Frame) -> None:
        self._frame = frame
        self._image = to_qimage(frame_image(frame, self._mode))
        self.update()
        self.frameShown.emit(frame)

    # -- drawing -----------------------------------------------------------------------------
    def image_rect(self) -> QRectF:
        """Where the square picture is drawn in the widget."""
        side = min(self.width(), self.height())
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), _BACKGROUND)
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self.image_rect(), self._image)
        elif self.message:
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
        self._draw_indicator(painter)
        painter.end()

    def quality_text(self) -> str:
        """The indicator's text: what is on screen and whether a better frame is coming."""
        if self._scene is None:
            return ""
        frame = self._frame
        shown = "" if frame is None else f"{frame.level}³ bake, {frame.rgb.shape[0]} px"
        if self.scheduler.busy:
            return f"{shown}  refining..." if shown else "baking..."
        return shown

    def _draw_indicator(self, painter: QPainter) -> None:
        text = self.quality_text()
        if not text:
            return
        camera = self._camera
        angles = (f"yaw {math.degrees(camera.yaw - FRONT):+.0f}°  pitch {math.degrees(camera.pitch - FRONT):+.0f}°"
                  f"  fov {camera.fov:.0f}°")
        font = QFont(painter.font())
        font.setPointSizeF(max(8.0, font.pointSizeF() * 0.9))
        painter.setFont(font)
        final = self._frame is not None and self._frame.final and not self.scheduler.busy
        colour = QColor(110, 220, 120) if final else QColor(250, 190, 70)
        box = QRectF(8, 8, 270, 40)
        painter.fillRect(box, QColor(0, 0, 0, 150))
        painter.setPen(colour)
        painter.drawEllipse(QPointF(18, 19), 4, 4)
        painter.drawText(box.adjusted(18, 2, -4, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, text)
        painter.setPen(QColor(220, 220, 220))
        painter.drawText(box.adjusted(8, 20, -4, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, angles)

    # -- mouse -------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is None:
            return
        delta = event.position() - self._drag_from
        self._drag_from = event.position()
        # the head follows the mouse: dragging right turns it right (the camera moves to -x, yaw grows),
        # dragging down tips its top towards the viewer (the camera rises, pitch shrinks)
        self.set_camera(self._camera.orbit(delta.x() * DRAG_RADIANS_PER_PIXEL, -delta.y() * DRAG_RADIANS_PER_PIXEL))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = None
            self.setCursor(Qt.CursorShape.OpenHandCursor)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.reset_camera()

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120
        if notches:
            self.set_camera(self._camera.zoom(notches))
        event.accept()
