"""Latest-request-wins rendering for the 3D viewport, from progressively refined bakes.

Each face shown is baked once (`models.bake.progressive.OrbitSession`) on a background job at
32^3, 64^3 then 128^3 cells; each finished level re-renders the current view, so the picture
sharpens by itself. Views are rendered from the bake on a worker (about 50 ms at 128 px on the
demo model): one frame job is in flight at a time, a newer request replaces the pending one, and
a frame older than the one on screen, or of a face no longer shown, is dropped.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from fenerf_app.workers import Cancelled, JobContext, Task
from models.bake.camera import DEFAULT_FOV, WHEEL_ZOOM_PER_STEP, CameraLimits
from models.bake.lattice import BakeCancelled
from models.bake.progressive import OrbitSession
from models.field.codes import Codes
from models.field.generator import Generator
from models.render.camera import FRONT
from models.render.options import RenderOptions

LIMITS = CameraLimits()
LEVELS = (32, 64, 128)
FRAME_SIZE = 128


@dataclass(frozen=True)
class Camera:
    """Orbit camera on the unit sphere (radians; frontal = pi/2, pi/2) with a field of view (degrees),
    kept within the limits the bake supports."""

    yaw: float = FRONT
    pitch: float = FRONT
    fov: float = DEFAULT_FOV

    def orbit(self, d_yaw: float, d_pitch: float) -> "Camera":
        clamp = lambda v, lo_hi: min(max(v, lo_hi[0]), lo_hi[1])  # noqa: E731
        return replace(self, yaw=FRONT + clamp(self.yaw + d_yaw - FRONT, LIMITS.yaw),
                       pitch=FRONT + clamp(self.pitch + d_pitch - FRONT, LIMITS.pitch))

    def zoom(self, notches: float) -> "Camera":
        """Positive notches zoom in (narrower field of view)."""
        fov = self.fov / WHEEL_ZOOM_PER_STEP ** notches
        return replace(self, fov=min(max(fov, LIMITS.fov[0]), LIMITS.fov[1]))


@dataclass(frozen=True, eq=False)
class Scene:
    """What the viewport shows: a generator, the codes (batch 1) and a key naming that content."""

    generator: Generator
    codes: Codes
    key: tuple
    render_defaults: dict


@dataclass
class Frame:
    """One finished view (arrays are (R, R[, 3]) numpy) and the bake level it came from."""

    request: int
    level: int
    scene_key: tuple
    camera: Camera
    rgb: np.ndarray
    mask: np.ndarray
    depth: np.ndarray
    opacity: np.ndarray
    seconds: float

    @property
    def final(self) -> bool:
        return self.level >= LEVELS[-1]


class BakeEngine:
    """The orbit sessions of the faces shown (worker side, no Qt): the current one and the previous
    one (its geometry pass is lent when only the appearance changed)."""

    def __init__(self) -> None:
        self.sessions: dict[tuple, OrbitSession] = {}

    def session(self, scene: Scene) -> OrbitSession:
        if scene.key not in self.sessions:
            previous = next(reversed(self.sessions.items()), None)
            session = OrbitSession(scene.generator, scene.codes,
                                   reuse_geometry_from=None if previous is None else previous[1])
            kept = {} if previous is None else {previous[0]: previous[1]}
            self.sessions = {**kept, scene.key: session}        # one assignment: other threads read it
        return self.sessions[scene.key]

    def refine(self, scene: Scene, cancel, on_level) -> None:
        self.session(scene).refine(LEVELS, cancel=cancel, on_level=on_level)

    def level(self, scene: Scene) -> int | None:
        session = self.sessions.get(scene.key)
        return None if session is None else session.resolution

    def frame(self, scene: Scene, camera: Camera) -> tuple[int, dict]:
        """The bake level used and the view's arrays."""
        session = self.sessions.get(scene.key)
        if session is None:
            raise Cancelled()                                   # that face is no longer kept
        level = session.resolution
        defaults = scene.render_defaults
        opts = RenderOptions(num_steps=int(defaults.get("num_steps", 24)), fov=camera.fov,
                             ray_start=defaults.get("ray_start", 0.88), ray_end=defaults.get("ray_end", 1.12))
        result = session.view(camera.yaw, camera.pitch, FRAME_SIZE, opts)
        return level, {"rgb": result.rgb_uint8(), "mask": result.mask_ids(), "depth": result.depth_array(),
                       "opacity": result.opacity[0].numpy()}


class RenderScheduler(QObject):
    """Turns a stream of (scene, camera) requests into frames, the latest winning."""

    frameReady = pyqtSignal(object)        # Frame
    busyChanged = pyqtSignal(bool)
    failed = pyqtSignal(object)            # exception

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = BakeEngine()
        self._latest = 0
        self._scene: Scene | None = None
        self._camera = Camera()
        self._pending: tuple[int, Scene, Camera] | None = None
        self._frame_task: Task | None = None
        self._bake_task: Task | None = None
        self._shown: tuple[int, int] = (0, 0)
        self.dropped = 0                    # stale frames thrown away

    @property
    def busy(self) -> bool:
        """True while a frame renders or the shown face is still being refined."""
        return self._frame_task is not None or self._bake_task is not None

    def request(self, scene: Scene | None, camera: Camera) -> int:
        """Ask for a view; returns its request id. None clears the scene (nothing is rendered)."""
        self._latest += 1
        if scene is None or self._scene is None or scene.key != self._scene.key:
            self._start_bake(scene)
        self._scene, self._camera = scene, camera
        self._pending = None if scene is None else (self._latest, scene, camera)
        self._start_frame()
        return self._latest

    def _start_bake(self, scene: Scene | None) -> None:
        if self._bake_task is not None:
            self._bake_task.cancel()
        if scene is None:
            return
        engine = self.engine

        def job(ctx: JobContext) -> None:
            try:
                engine.refine(scene, lambda: ctx.cancelled, ctx.partial)
            except BakeCancelled:
                raise Cancelled() from None

        task = Task(job, f"bake-{scene.key}")
        task.partial.connect(lambda _level: self._on_level(scene))
        task.failed.connect(self.failed)
        task.ended.connect(lambda: self._on_bake_ended(task))
        self._bake_task = task
        self.busyChanged.emit(True)
        task.start()

    def _on_level(self, scene: Scene) -> None:
        if self._scene is not None and scene.key == self._scene.key:
            self.request(self._scene, self._camera)          # the same view, from the better bake

    def _on_bake_ended(self, task: Task) -> None:
        if self._bake_task is task:
            self._bake_task = None
        self._emit_busy()

    def _start_frame(self) -> None:
        if self._frame_task is not None or self._pending is None:
            return
        request, scene, camera = self._pending
        if self.engine.level(scene) is None:
            return                                           # the first level will ask again
        self._pending = None
        engine = self.engine

        def job(ctx: JobContext) -> Frame:
            started = time.perf_counter()
            level, arrays = engine.frame(scene, camera)
            return Frame(request, level, scene.key, camera, **arrays, seconds=time.perf_counter() - started)

        task = Task(job, f"frame-{request}")
        task.finished.connect(self._on_frame)
        task.failed.connect(self.failed)
        task.ended.connect(self._on_frame_ended)
        self._frame_task = task
        self.busyChanged.emit(True)
        task.start()

    def _on_frame(self, frame: Frame) -> None:
        order = (frame.request, frame.level)
        if self._scene is None or frame.scene_key != self._scene.key or order <= self._shown:
            self.dropped += 1
            return
        self._shown = order
        self.frameReady.emit(frame)

    def _on_frame_ended(self) -> None:
        self._frame_task = None
        self._start_frame()
        self._emit_busy()

    def _emit_busy(self) -> None:
        if not self.busy:
            self.busyChanged.emit(False)

    def cancel(self) -> None:
        """Stop refining and drop the pending request."""
        self._pending = None
        if self._bake_task is not None:
            self._bake_task.cancel()
