"""The 3D viewport: latest request wins, progressive frames, stale results dropped; orbit with
real mouse events on the demo model."""
import math
import threading

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtGui import QWheelEvent
from PyQt6.QtWidgets import QApplication

from fenerf_app.render_scheduler import LEVELS, LIMITS, Camera, RenderScheduler, Scene
from fenerf_app.viewport import MODES, Viewport, frame_image
from models.bake.lattice import BakeCancelled
from models.bake.camera import DRAG_RADIANS_PER_PIXEL, WHEEL_ZOOM_PER_STEP
from models.field.latents import codes_for_seeds

class ScriptedEngine:
    """Stands in for BakeEngine: levels appear when the bake gate lets them, frames wait at the
    frame gate; records every frame asked for."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.levels: dict[tuple, int] = {}
        self.bake_gate, self.frame_gate = threading.Event(), threading.Event()
        self.bake_gate.set()
        self.frame_gate.set()
        self.entered = threading.Event()
        self.allowed = len(LEVELS)                     # how many levels the bake may finish

    def refine(self, scene, cancel, on_level):
        for index, level in enumerate(LEVELS):
            if self.levels.get(scene.key, 0) >= level:
                continue
            while not self.bake_gate.wait(0.005) or index >= self.allowed:
                if cancel():
                    raise BakeCancelled()
            self.levels[scene.key] = level
            on_level(level)

    def level(self, scene):
        return self.levels.get(scene.key)

    def frame(self, scene, camera):
        level = self.levels[scene.key]
        self.calls.append((scene.key, camera.yaw, level))
        self.entered.set()
        self.frame_gate.wait()
        side = 4
        return level, {"rgb": np.zeros((side, side, 3), np.uint8), "mask": np.zeros((side, side), np.uint8),
                       "depth": np.zeros((side, side), np.float32), "opacity": np.zeros((side, side), np.float32)}


def scene(key) -> Scene:
    return Scene(None, None, (key,), {})


@pytest.fixture
def scheduler(qtbot):
    sched = RenderScheduler()
    sched.engine = ScriptedEngine()
    frames = []
    sched.frameReady.connect(frames.append)
    sched.frames = frames
    yield sched
    sched.engine.bake_gate.set()
    sched.engine.frame_gate.set()
    qtbot.waitUntil(lambda: not sched.busy, timeout=5000)


def test_a_burst_of_requests_renders_only_the_first_and_the_last(qtbot, scheduler):
    engine = scheduler.engine
    engine.levels[("a",)] = 128                       # already baked: no refinement
    engine.frame_gate.clear()
    for k in range(10):
        scheduler.request(scene("a"), Camera(yaw=1.5 + k / 100))
    qtbot.waitUntil(engine.entered.is_set)
    engine.frame_gate.set()
    qtbot.waitUntil(lambda: not scheduler.busy, timeout=5000)
    assert engine.calls == [(("a",), 1.5, 128), (("a",), 1.59, 128)]
    assert [(f.camera.yaw, f.final) for f in scheduler.frames] == [(1.5, True), (1.59, True)]


def test_each_bake_level_sharpens_the_current_view(qtbot, scheduler):
    engine = scheduler.engine
    engine.allowed = 0
    scheduler.request(scene("a"), Camera(yaw=1.6))
    for count in range(1, len(LEVELS) + 1):
        engine.allowed = count
        qtbot.waitUntil(lambda: len(scheduler.frames) == count, timeout=5000)
    qtbot.waitUntil(lambda: not scheduler.busy, timeout=5000)
    assert [f.level for f in scheduler.frames] == list(LEVELS)
    assert all(f.camera.yaw == 1.6 for f in scheduler.frames) and scheduler.frames[-1].final
    assert [c[2] for c in engine.calls] == list(LEVELS)


def test_frames_of_content_no_longer_shown_are_dropped(qtbot, scheduler):
    engine = scheduler.engine
    engine.levels[("old",)] = 128
    engine.frame_gate.clear()
    scheduler.request(scene("old"), Camera())
    qtbot.waitUntil(engine.entered.is_set)
    scheduler.request(scene("new"), Camera())
    engine.frame_gate.set()
    qtbot.waitUntil(lambda: not scheduler.busy, timeout=5000)
    assert {f.scene_key for f in scheduler.frames} == {("new",)} and scheduler.dropped == 1
    assert scheduler.frames[-1].final


def test_camera_limits_follow_the_bake(qtbot):
    camera = Camera().orbit(5.0, -5.0).zoom(-30)
    assert camera.yaw == pytest.approx(math.pi / 2 + LIMITS.yaw[1])
    assert camera.pitch == pytest.approx(math.pi / 2 + LIMITS.pitch[0]) and camera.fov == LIMITS.fov[1]


@pytest.fixture
def viewport(qtbot, demo_model):
    view = Viewport()
    view.resize(300, 300)
    view.show()
    qtbot.waitExposed(view)
    codes = codes_for_seeds(demo_model.generator, [0], 0.7)
    view.set_scene(Scene(demo_model.generator, codes, ("seed", 0), demo_model.render_defaults))
    qtbot.waitUntil(lambda: view.frame is not None and view.frame.final and not view.scheduler.busy,
                    timeout=30_000)
    yield view
    view.scheduler.cancel()
    qtbot.waitUntil(lambda: not view.scheduler.busy, timeout=30_000)
    view.close()
    view.deleteLater()


def test_dragging_orbits_and_the_final_frame_is_of_the_last_camera(qtbot, viewport):
    start = viewport.camera
    centre = QPoint(150, 150)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=centre)
    for step in range(1, 11):
        qtbot.mouseMove(viewport, QPoint(150 + 6 * step, 150 - 2 * step))
        qtbot.wait(15)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=QPoint(210, 130))
    camera = viewport.camera
    assert camera.yaw == pytest.approx(start.yaw + 60 * DRAG_RADIANS_PER_PIXEL)
    assert camera.pitch == pytest.approx(start.pitch + 20 * DRAG_RADIANS_PER_PIXEL)
    qtbot.waitUntil(lambda: viewport.frame.final and viewport.frame.camera == camera and not viewport.scheduler.busy,
                    timeout=30_000)
    assert viewport.quality_text() == "128³ bake, 128 px"


def test_wheel_zooms_and_double_click_resets(qtbot, viewport):
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(viewport, QPoint(160, 100))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=QPoint(160, 100))
    wheel = QWheelEvent(QPointF(100, 100), QPointF(100, 100), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, wheel)
    assert viewport.camera.fov == pytest.approx(12 / WHEEL_ZOOM_PER_STEP ** 2)
    qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    assert viewport.camera == Camera(math.pi / 2, math.pi / 2, 12.0)


def test_display_modes_draw_different_pictures_of_one_frame(viewport):
    frame = viewport.frame
    pictures = {mode: frame_image(frame, mode) for mode in MODES}
    assert all(p.shape == (128, 128, 3) and p.dtype == np.uint8 for p in pictures.values())
    for a in MODES:
        for b in MODES:
            if a < b and frame.opacity.max() > 0.5:
                assert not np.array_equal(pictures[a], pictures[b]), (a, b)
    with pytest.raises(ValueError, match="unknown display mode"):
        viewport.set_mode("x-ray")
