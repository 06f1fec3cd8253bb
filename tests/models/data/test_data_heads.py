"""The procedural heads: determinism, label coverage, left/right, latent disentanglement, framing."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from models.data.head_params import APP_DIMS, GEO_DIMS, HeadParams
from models.data.head_render import DEMO_FRAMING_LANDMARKS, frontal_landmarks, render_heads
from models.labels import ID
from tests.models.data.conftest import render


def _tensors(record) -> list[torch.Tensor]:
    out = []
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        out += _tensors(value) if dataclasses.is_dataclass(value) else [value]
    return out


def test_same_seed_gives_identical_heads_and_renders():
    a, b = render(4, seed=3, resolution=32, frontal=False), render(4, seed=3, resolution=32, frontal=False)
    assert all(torch.equal(x, y) for x, y in zip(_tensors(a.params), _tensors(b.params)))
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    c = render(4, seed=4, resolution=32, frontal=False)
    assert not torch.equal(a.masks, c.masks)
    assert not torch.equal(a.params.z_geo, c.params.z_geo)


def test_from_latents_rejects_short_latents():
    with pytest.raises(ValueError, match="z_geo"):
        HeadParams.from_latents(torch.zeros(2, GEO_DIMS - 1), torch.zeros(2, APP_DIMS))
    with pytest.raises(ValueError, match="z_app"):
        HeadParams.from_latents(torch.zeros(2, GEO_DIMS), torch.zeros(3, APP_DIMS))
    longer = HeadParams.from_latents(torch.zeros(1, 256), torch.zeros(1, 256))
    exact = HeadParams.from_latents(torch.zeros(1, GEO_DIMS), torch.zeros(1, APP_DIMS))
    assert torch.equal(longer.shape.eye_c, exact.shape.eye_c)


def test_core_labels_cover_a_batch_of_posed_heads(posed64):
    masks = posed64.masks.numpy()
    core = ("skin", "nose", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear", "mouth", "u_lip", "l_lip",
            "hair", "neck", "cloth")
    present = {name for name in core if (masks == ID[name]).any()}
    assert present == set(core)
    every_image = ("skin", "nose", "u_lip", "l_lip")
    for name in every_image:
        assert (masks == ID[name]).any(axis=(1, 2)).all(), name
    background = (masks == 0).mean()
    assert 0.1 < background < 0.5
    images = posed64.images.numpy()
    assert (images.transpose(0, 2, 3, 1)[masks == 0] == 0).all(), "background must be black"
    assert images.transpose(0, 2, 3, 1)[masks > 0].mean() > 0.15


@pytest.mark.parametrize("flag,label", [("has_glasses", "eye_g"), ("has_hat", "hat"),
                                        ("has_earrings", "ear_r"), ("has_necklace", "neck_l")])
def test_accessories_appear_in_a_bigger_sample(flag, label):
    params = HeadParams.sample(400, torch.Generator().manual_seed(99))
    has = getattr(params.shape, flag) > 0
    assert 0.04 < has.float().mean() < 0.35
    chosen = has.nonzero().squeeze(1)[:6]
    picked = params.take(chosen)
    front = torch.full((len(chosen),), math.pi / 2)
    with torch.inference_mode():
        _, masks = render_heads(picked, front, front, 64)
    seen = (masks == ID[label]).flatten(1).any(1)
    assert seen.sum() >= 2, f"{label} visible in {int(seen.sum())} of {len(chosen)} heads that wear it"
    without = params.take((~has).nonzero().squeeze(1)[:6])
    with torch.inference_mode():
        _, masks = render_heads(without, front[:6], front[:6], 64)
    assert not (masks == ID[label]).any()


def test_subject_left_is_on_the_image_right_in_the_frontal_view(frontal64):
    masks = frontal64.masks.numpy()
    columns = np.arange(masks.shape[2])[None, None, :]
    for left, right in (("l_eye", "r_eye"), ("l_brow", "r_brow"), ("l_ear", "r_ear")):
        for mask in masks:
            if (mask == ID[left]).any() and (mask == ID[right]).any():
                left_x = np.broadcast_to(columns[0], mask.shape)[mask == ID[left]].mean()
                right_x = np.broadcast_to(columns[0], mask.shape)[mask == ID[right]].mean()
                assert left_x > masks.shape[2] / 2 > right_x, left


def test_frontal_landmarks_sit_on_the_rendered_eyes(frontal64):
    marks = frontal_landmarks(frontal64.params).numpy()
    side = frontal64.masks.shape[-1]
    rows, cols = np.mgrid[0:side, 0:side] / (side - 1)
    for mask, mark in zip(frontal64.masks.numpy(), marks):
        for index, name in ((0, "r_eye"), (1, "l_eye")):
            region = mask == ID[name]
            if region.sum() < 3:
                continue          # hidden (sunglasses)
            centre = (cols[region].mean(), rows[region].mean())
            assert abs(centre[0] - mark[index, 0]) < 1.5 / side and abs(centre[1] - mark[index, 1]) < 2.0 / side
        lips = (mask == ID["u_lip"]) | (mask == ID["l_lip"]) | (mask == ID["mouth"])
        assert abs(rows[lips].mean() - mark[2, 1]) < 2.0 / side


def test_demo_framing_landmarks_are_the_mean_over_random_heads():
    params = HeadParams.sample(2048, torch.Generator().manual_seed(31))
    mean = frontal_landmarks(params).mean(0).numpy()
    np.testing.assert_allclose(mean, np.array(DEMO_FRAMING_LANDMARKS), atol=0.003)


def test_geometry_latents_leave_colours_alone_and_appearance_latents_leave_the_mask_alone():
    g = torch.Generator().manual_seed(5)
    z_geo, z_app = torch.randn(4, GEO_DIMS, generator=g), torch.randn(4, APP_DIMS, generator=g)
    base = HeadParams.from_latents(z_geo, z_app)
    new_geo = HeadParams.from_latents(torch.randn(4, GEO_DIMS, generator=g), z_app)
    new_app = HeadParams.from_latents(z_geo, torch.randn(4, APP_DIMS, generator=g))
    assert all(torch.equal(a, b) for a, b in zip(_tensors(base.look), _tensors(new_geo.look)))
    assert all(torch.equal(a, b) for a, b in zip(_tensors(base.shape), _tensors(new_app.shape)))
    front = torch.full((4,), math.pi / 2)
    with torch.inference_mode():
        images, masks = render_heads(base, front, front, 48)
        geo_images, geo_masks = render_heads(new_geo, front, front, 48)
        app_images, app_masks = render_heads(new_app, front, front, 48)
    assert torch.equal(masks, app_masks) and not torch.equal(images, app_images)
    assert not torch.equal(masks, geo_masks)
    for i in range(4):     # a part keeps its colour when only the geometry changes
        skin, skin_geo = masks[i] == ID["skin"], geo_masks[i] == ID["skin"]
        a = images[i].permute(1, 2, 0)[skin].median(0).values
        b = geo_images[i].permute(1, 2, 0)[skin_geo].median(0).values
        assert (a - b).abs().max() < 0.08
    assert any((images[i] - app_images[i]).abs().max() > 0.1 for i in range(4))
