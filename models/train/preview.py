"""Training previews (spec 11.6, simplified): fixed latents rendered with the EMA weights from the
front and from a turned view, image and colour mask side by side."""
from __future__ import annotations

import math

import numpy as np
import torch

from models.field.generator import Generator
from models.render.options import RenderOptions
from models.render.renderer import render

TURN = 0.5          # yaw offset of the second view (rad), as the official "tilted" previews


def fixed_latents(count: int, z_geo_dim: int, z_app_dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Preview latents from their own generator (the global RNG is not touched)."""
    rng = torch.Generator().manual_seed(seed)
    return torch.randn(count, z_geo_dim, generator=rng), torch.randn(count, z_app_dim, generator=rng)


@torch.no_grad()
def preview_grid(generator: Generator, z_geo: torch.Tensor, z_app: torch.Tensor, opts: RenderOptions,
                 psi: float = 1.0) -> np.ndarray:
    """uint8 (N*R, 4*R, 3): per latent [front image, front mask, turned image, turned mask]."""
    device = generator.device
    codes = generator.codes_for(z_geo.to(device), z_app.to(device), psi)
    opts = opts.replace(mode="deterministic", fill_mode="seg_padding_background")
    rows = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        front = render(generator, codes, math.pi / 2, math.pi / 2, opts)
        turned = render(generator, codes, math.pi / 2 + TURN, math.pi / 2, opts)
    for i in range(codes.batch):
        rows.append(np.concatenate([front.rgb_uint8(i), front.mask_rgb(i),
                                    turned.rgb_uint8(i), turned.mask_rgb(i)], axis=1))
    return np.concatenate(rows, axis=0)
