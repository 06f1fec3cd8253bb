"""Videos: trajectories, interpolation, mp4 and GIF that read back with the right frames."""
import math

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from models.export.video import frame_image, interpolate, render_frames, save_gif, save_mp4, trajectory
from models.field.latents import codes_for_seeds
from models.render.options import RenderOptions


def test_trajectories_follow_the_official_curves():
    front = trajectory("front", 5)
    assert front[0] == pytest.approx((math.pi / 2, math.pi / 2 + 0.2))
    assert front[1] == pytest.approx((math.pi / 2 + 0.4, math.pi / 2))
    orbit = trajectory("orbit", 3)
    assert [y for y, _ in orbit] == pytest.approx([0, math.pi / 2, math.pi]) and {p for _, p in orbit} == {math.pi / 2}
    sweep = trajectory("yaw_sweep", 3)
    assert [y for y, _ in sweep] == pytest.approx([math.pi / 2 - 0.5, math.pi / 2, math.pi / 2 + 0.5])
    with pytest.raises(ValueError, match="unknown trajectory"):
        trajectory("spiral", 3)


def test_interpolation_moves_only_the_chosen_latent(model_b):
    a, b = codes_for_seeds(model_b, [1], 0.7), codes_for_seeds(model_b, [2], 0.7)
    geo = interpolate(a, b, "geo", 1.0)
    torch.testing.assert_close(geo.geo_freq, b.geo_freq)
    assert torch.equal(geo.app_phase, a.app_phase)
    app = interpolate(a, b, "app", 0.5)
    assert torch.equal(app.geo_phase, a.geo_phase)
    torch.testing.assert_close(app.app_freq, (a.app_freq + b.app_freq) / 2)
    assert interpolate(a, b, "none", 0.7) is a
    with pytest.raises(ValueError, match="unknown latent"):
        interpolate(a, b, "pose", 0.5)


@pytest.mark.parametrize("latent, size", [("none", 16), ("both", 15)])
def test_videos_read_back_with_the_frame_count_and_size(tmp_path, model_b, latent, size):
    a, b = codes_for_seeds(model_b, [3], 0.7), codes_for_seeds(model_b, [4], 0.7)
    opts = RenderOptions(img_size=size, num_steps=6, lock_view=True)
    calls = []
    frames = render_frames(model_b, a, b, latent, "yaw_sweep", 4, opts, bake_resolution=16,
                           progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert len(frames) == 4 and frames[0].shape == (size, 3 * size, 3)
    assert not np.array_equal(frames[0], frames[-1])
    gif = iio.imread(save_gif(tmp_path / "v.gif", frames))
    assert gif.shape[:3] == (4, size, 3 * size)
    mp4 = iio.imread(save_mp4(tmp_path / "v.mp4", frames, fps=10))
    even = size + size % 2, 3 * size + (3 * size) % 2
    assert mp4.shape == (4, *even, 3)
    decoded = mp4[0, :size, :3 * size].astype(int)
    own, other = (float(np.abs(decoded - f).mean()) for f in (frames[0], frames[-1]))
    assert own < 20 and own < 0.7 * other          # lossy, but clearly the first frame


def test_frames_put_image_mask_and_depth_side_by_side(model_b):
    from models.render.renderer import render
    result = render(model_b, codes_for_seeds(model_b, [3], 0.7), opts=RenderOptions(img_size=12, num_steps=6))
    frame = frame_image(result)
    np.testing.assert_array_equal(frame[:, :12], result.rgb_uint8())
    np.testing.assert_array_equal(frame[:, 12:24], result.mask_rgb())
    assert bool((frame[:, 24:][result.opacity[0].numpy() == 0] == 0).all())   # empty pixels: black depth


def test_interpolating_needs_a_second_face(model_b):
    a = codes_for_seeds(model_b, [3], 0.7)
    with pytest.raises(ValueError, match="second code"):
        render_frames(model_b, a, None, "geo", "front", 2, RenderOptions(img_size=8))
