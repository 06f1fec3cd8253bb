"""The orbit camera: drags, wheel zoom, limits, reset."""
import math

import pytest
import torch

from models.bake.camera import DEFAULT_FOV, CameraLimits, OrbitCamera
from models.render.camera import camera_origin
from models.render.options import RenderOptions


def test_drag_right_moves_the_camera_towards_minus_x_and_drag_down_raises_it():
    camera = OrbitCamera()
    camera.drag(20, 0)
    assert float(camera_origin(torch.tensor([camera.yaw]), torch.tensor([camera.pitch]))[0, 0]) < 0
    camera.reset()
    camera.drag(0, 20)
    assert float(camera_origin(torch.tensor([camera.yaw]), torch.tensor([camera.pitch]))[0, 1]) > 0


def test_limits_clamp_every_change():
    limits = CameraLimits(yaw=(-0.5, 0.25), pitch=(-0.1, 0.2), fov=(6.0, 14.0))
    camera = OrbitCamera(limits=limits)
    camera.drag(10_000, 10_000)
    assert camera.pose == pytest.approx((math.pi / 2 + 0.25, math.pi / 2 - 0.1))
    camera.drag(-10_000, -10_000)
    assert camera.pose == pytest.approx((math.pi / 2 - 0.5, math.pi / 2 + 0.2))
    for _ in range(50):
        camera.wheel(120)
    assert camera.fov == pytest.approx(6.0) and camera.zoom == pytest.approx(DEFAULT_FOV / 6.0)
    camera.set_zoom(0.01)
    assert camera.fov == pytest.approx(14.0)


def test_wheel_zooms_in_and_out_symmetrically_and_reset_restores_the_start():
    camera = OrbitCamera(yaw=1.7, pitch=1.5, fov=10.0)
    camera.wheel(240)
    assert camera.fov < 10.0
    camera.wheel(-240)
    assert camera.fov == pytest.approx(10.0)
    camera.drag(5, -3)
    camera.reset()
    assert (camera.yaw, camera.pitch, camera.fov) == pytest.approx((1.7, 1.5, 10.0))


def test_render_options_take_the_fov_and_lock_the_view():
    camera = OrbitCamera(fov=8.0)
    opts = camera.render_options(RenderOptions(img_size=96, num_steps=12))
    assert (opts.fov, opts.lock_view, opts.img_size, opts.num_steps) == (8.0, True, 96, 12)
