"""An orbit camera controller for the interactive viewport: plain numbers, no Qt.

The camera sits on the unit sphere and looks at the origin (spec 4.3): yaw (theta) and pitch (phi)
in radians, frontal = pi/2, pi/2; zoom changes the field of view (the ray range and the baked
volume stay valid). Drags turn the head with the mouse: dragging right moves the camera towards
-x (more of the face's right side shows), dragging down raises the camera (more of the top shows).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from models.render.camera import FRONT
from models.render.options import RenderOptions

DEFAULT_FOV = 12.0
DRAG_RADIANS_PER_PIXEL = 0.008
WHEEL_STEP = 120.0          # one notch of a mouse wheel (Qt angleDelta units)
WHEEL_ZOOM_PER_STEP = 1.1


@dataclass(frozen=True)
class CameraLimits:
    """Allowed ranges. Yaw/pitch are offsets from the frontal view in radians; fov in degrees.
    The models are trained within about +-0.3 rad yaw and +-0.16 rad pitch: views far beyond
    show unsupervised parts of the field. A fov above 16 degrees reaches past the baked cube."""

    yaw: tuple[float, float] = (-1.0, 1.0)
    pitch: tuple[float, float] = (-0.6, 0.6)
    fov: tuple[float, float] = (4.0, 16.0)


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


class OrbitCamera:
    """Yaw, pitch and field of view with limits, changed by drag / wheel / explicit setters."""

    def __init__(self, yaw: float = FRONT, pitch: float = FRONT, fov: float = DEFAULT_FOV,
                 limits: CameraLimits = CameraLimits()):
        self.limits = limits
        self._home = (yaw, pitch, fov)
        self.yaw = self.pitch = self.fov = 0.0
        self.set(yaw, pitch, fov)

    def set(self, yaw: float | None = None, pitch: float | None = None, fov: float | None = None) -> None:
        """Set any of the three (radians, radians, degrees), clamped to the limits."""
        if yaw is not None:
            self.yaw = FRONT + _clamp(yaw - FRONT, self.limits.yaw)
        if pitch is not None:
            self.pitch = FRONT + _clamp(pitch - FRONT, self.limits.pitch)
        if fov is not None:
            self.fov = _clamp(fov, self.limits.fov)

    def drag(self, dx: float, dy: float, radians_per_pixel: float = DRAG_RADIANS_PER_PIXEL) -> None:
        """Orbit by a mouse drag of (dx, dy) pixels (screen coordinates, y down)."""
        self.set(yaw=self.yaw + dx * radians_per_pixel, pitch=self.pitch - dy * radians_per_pixel)

    def wheel(self, delta: float) -> None:
        """Zoom by a wheel delta (120 per notch, positive = zoom in)."""
        self.set(fov=self.fov / WHEEL_ZOOM_PER_STEP ** (delta / WHEEL_STEP))

    @property
    def zoom(self) -> float:
        """Magnification relative to the default 12-degree view."""
        return DEFAULT_FOV / self.fov

    def set_zoom(self, zoom: float) -> None:
        self.set(fov=DEFAULT_FOV / zoom)

    def reset(self) -> None:
        """Back to the pose the camera was created with."""
        self.set(*self._home)

    @property
    def pose(self) -> tuple[float, float]:
        """(yaw, pitch) in radians, as `render` and `march` take them."""
        return self.yaw, self.pitch

    def render_options(self, base: RenderOptions = RenderOptions()) -> RenderOptions:
        """`base` with this camera's fov and the locked view a bake implies."""
        return base.replace(fov=self.fov, lock_view=True)

    def __repr__(self) -> str:
        return (f"OrbitCamera(yaw={self.yaw:.3f}, pitch={self.pitch:.3f}, fov={self.fov:.2f}; "
                f"{math.degrees(self.yaw - FRONT):+.1f} deg, {math.degrees(self.pitch - FRONT):+.1f} deg)")
