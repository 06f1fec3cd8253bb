"""The 3D field of the heads: renders agree with it, it is view-independent, its density
volume-renders to the same masks, and training points concentrate on the surface."""
from __future__ import annotations

import math

import pytest
import torch

from models.data.head_field import LABEL_BAND, density_from_sdf, head_field, sample_training_points
from models.data.head_params import HeadParams
from models.data.head_render import RAY_END, RAY_START, render_heads, trace_heads
from models.data.head_shape import BOX_HALF
from models.render.camera import world_rays


def _heads(count: int, seed: int) -> HeadParams:
    return HeadParams.sample(count, torch.Generator().manual_seed(seed))


def test_rendered_pixels_are_the_field_at_the_traced_points():
    params = _heads(3, 1)
    yaw, pitch = torch.tensor([1.2, 1.57, 2.0]), torch.tensor([1.5, 1.7, 1.4])
    trace = trace_heads(params, yaw, pitch, 40)
    images, masks = render_heads(params, yaw, pitch, 40)
    field = head_field(trace.points, params)
    hit = trace.hit
    assert torch.equal(masks.flatten(1)[hit], field.label[hit].to(torch.uint8))
    assert torch.allclose(images.flatten(2).transpose(1, 2)[hit], field.rgb[hit], atol=1e-6)
    assert (masks.flatten(1)[~hit] == 0).all()
    assert field.sdf[hit].abs().max() < 0.002
    origin, dirs, _ = world_rays(yaw, pitch, 40, 12.0)
    back_projected = origin[:, None] + dirs * trace.depth[..., None]
    assert torch.allclose(back_projected[hit], trace.points[hit], atol=1e-6)


def test_a_point_seen_from_two_poses_has_one_label_and_colour():
    params = _heads(2, 2)
    poses = (torch.tensor([1.35, 1.75]), torch.tensor([1.5, 1.62])), (torch.tensor([1.8, 1.3]), torch.tensor([1.62, 1.5]))
    traces = [trace_heads(params, yaw, pitch, 64) for yaw, pitch in poses]
    renders = [render_heads(params, yaw, pitch, 64) for yaw, pitch in poses]
    matched = 0
    for b in range(2):
        hit_a, hit_b = traces[0].hit[b], traces[1].hit[b]
        pa, pb = traces[0].points[b][hit_a], traces[1].points[b][hit_b]
        nearest = torch.cdist(pa, pb).min(1)
        close = nearest.values < 8e-4
        la = renders[0][1][b].flatten()[hit_a][close]
        lb = renders[1][1][b].flatten()[hit_b][nearest.indices[close]]
        ca = renders[0][0][b].flatten(1).T[hit_a][close]
        cb = renders[1][0][b].flatten(1).T[hit_b][nearest.indices[close]]
        assert close.sum() > 50
        assert (la == lb).float().mean() > 0.97
        assert (ca - cb).abs().max(1).values.median() < 0.02
        matched += int(close.sum())
    assert matched > 200


def test_background_is_label_zero_and_black_away_from_the_head():
    params = _heads(2, 3)
    corners = torch.tensor([[BOX_HALF, BOX_HALF, BOX_HALF], [-BOX_HALF, BOX_HALF, BOX_HALF],
                            [0.0, 0.0, BOX_HALF - 0.001]]).expand(2, 3, 3)
    sample = head_field(corners, params)
    assert (sample.sdf > LABEL_BAND).all()
    assert (sample.label == 0).all() and (sample.rgb == 0).all()
    inside = head_field(torch.zeros(2, 1, 3), params)
    assert (inside.sdf < 0).all() and (inside.label > 0).all()


def test_volume_rendering_the_density_reproduces_the_traced_masks():
    params = _heads(2, 4)
    yaw, pitch = torch.tensor([1.57, 1.9]), torch.tensor([1.57, 1.45])
    side, samples = 28, 128
    _, masks = render_heads(params, yaw, pitch, side)
    origin, dirs, _ = world_rays(yaw, pitch, side, 12.0)
    depths = torch.linspace(RAY_START, RAY_END, samples)
    points = origin[:, None, None] + dirs[:, :, None] * depths[None, None, :, None]
    field = head_field(points.reshape(2, -1, 3), params, shade=False)
    sigma = density_from_sdf(field.sdf).reshape(2, side * side, samples)
    delta = torch.cat([depths.diff(), torch.tensor([1e10])])
    alpha = 1 - torch.exp(-sigma * delta)
    weights = alpha * torch.cumprod(torch.cat([torch.ones(2, side * side, 1), 1 - alpha[..., :-1] + 1e-10], -1), -1)
    opacity = weights.sum(-1)
    one_hot = torch.nn.functional.one_hot(field.label.reshape(2, side * side, samples), 19).float()
    labels = (weights[..., None] * one_hot).sum(2)[..., 1:].argmax(-1) + 1
    volume_mask = torch.where(opacity >= 0.9, labels, 0).reshape(2, side, side)
    fg_traced, fg_volume = masks > 0, volume_mask > 0
    iou = (fg_traced & fg_volume).sum() / (fg_traced | fg_volume).sum()
    assert iou > 0.97
    both = fg_traced & fg_volume
    assert (volume_mask[both] == masks[both].long()).float().mean() > 0.95


def test_training_points_concentrate_near_the_surface_and_fill_the_box():
    params = _heads(3, 5)
    points = sample_training_points(params, 2000, torch.Generator().manual_seed(0), near_fraction=0.75)
    again = sample_training_points(params, 2000, torch.Generator().manual_seed(0), near_fraction=0.75)
    assert points.shape == (3, 2000, 3) and torch.equal(points, again)
    assert points.abs().max() <= BOX_HALF
    sdf = head_field(points, params, shade=False).sdf
    near = (sdf.abs() < 0.015).float().mean(1)
    assert (near > 0.7).all()
    uniform = points[:, 1500:]
    assert (uniform.abs().amax(1) > 0.1).all(), "the uniform share must reach out into the box"
    assert not torch.equal(points, sample_training_points(params, 2000, torch.Generator().manual_seed(1)))


def test_head_field_checks_its_input_shape():
    params = _heads(2, 6)
    with pytest.raises(ValueError, match="points must be"):
        head_field(torch.zeros(3, 5, 3), params)
    assert math.isfinite(float(head_field(torch.zeros(2, 5, 3), params).sdf.sum()))
