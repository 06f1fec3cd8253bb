"""The ray-subset renderer: equal to the reference renderer on a full grid, exact sample skipping."""
from __future__ import annotations

import math

import torch

from models.field.config import GeneratorConfig
from models.field.generator import Generator
from models.field.latents import codes_for_seeds
from models.invert.rays import RayRenderer, grid_pixels
from models.render.options import RenderOptions
from models.render.renderer import render


def _small_generator() -> Generator:
    torch.manual_seed(0)
    gen = Generator(GeneratorConfig(grid=True, hidden_dim=32, geo_layers=3, app_layers=2, mapping_hidden=32,
                                    mapping_depth=2, label_layers=2, grid_channels=4, grid_resolution=8))
    gen.siren.init_official()
    with torch.no_grad():
        gen.siren.final_layer.weight *= 200          # enough density for opaque and empty rays
    return gen.requires_grad_(False).eval()


def test_full_grid_equals_reference_render():
    gen = _small_generator()
    codes = codes_for_seeds(gen, [1])
    opts = RenderOptions(img_size=16, num_steps=10, hierarchical=False, fill_mode=None, accelerate=False)
    reference = render(gen, codes, math.pi / 2, math.pi / 2, opts)
    ours, opacity = RayRenderer(gen, 16, 10, jitter=False).render(codes, torch.arange(256))
    assert torch.allclose(ours.T.reshape(21, 16, 16), reference.image[0], atol=1e-5)
    assert torch.allclose(opacity.reshape(16, 16), reference.opacity[0], atol=1e-5)
    assert 0.05 < float((opacity > 0.9).float().mean()) < 0.95       # opaque and empty rays both present


def test_skipping_empty_samples_keeps_values_and_gradients():
    gen = _small_generator()
    codes = codes_for_seeds(gen, [2])
    pixels = torch.arange(0, 24 * 24, 3)
    grads, outs = [], []
    for skip in (False, True):
        renderer = RayRenderer(gen, 24, 16, jitter=False, skip_empty=skip)
        offset = torch.zeros_like(codes.geo_phase, requires_grad=True)
        moved = type(codes)(codes.geo_freq, codes.geo_phase + offset, codes.app_freq, codes.app_phase)
        out, _ = renderer.render(moved, pixels)
        out.square().sum().backward()
        outs.append(out.detach())
        grads.append(offset.grad)
    assert 0 < renderer.kept_fraction < 0.9                     # it did skip something
    assert torch.allclose(outs[0], outs[1], atol=1e-4)
    assert torch.allclose(grads[0], grads[1], rtol=1e-3, atol=1e-4 * grads[0].abs().max())


def test_grid_pixels_cover_every_pixel_equally():
    rng = torch.Generator().manual_seed(0)
    counts = torch.zeros(32 * 32)
    for _ in range(400):
        idx = grid_pixels(32, 8, rng)
        assert idx.numel() == 64 and idx.unique().numel() == 64
        counts[idx] += 1
    assert counts.min() > 0
    assert float(counts.std() / counts.mean()) < 0.35               # 16 offsets, each ~25 times
    assert torch.equal(grid_pixels(16, 16, rng), torch.arange(256))  # stride 1 = the full image


def test_edit_rays_come_from_the_grown_region():
    from models.invert.rays import region_pixels, with_region_rays
    region = torch.zeros(16, 16, dtype=torch.bool)
    region[5:7, 8:10] = True
    grown = region_pixels(region, 1)
    rows, cols = grown // 16, grown % 16
    assert grown.numel() == 16 and rows.min() == 4 and rows.max() == 7 and cols.min() == 7 and cols.max() == 10
    rng = torch.Generator().manual_seed(0)
    grid = grid_pixels(16, 4, rng)
    rays = with_region_rays(grid, grown, 5, rng)
    extra = rays[grid.numel():]
    assert torch.equal(rays[:grid.numel()], grid) and extra.numel() == 5
    assert extra.unique().numel() == 5 and bool(torch.isin(extra, grown).all())
    assert with_region_rays(grid, grown, 100, rng).numel() == grid.numel() + 16     # all of a small region
