"""Latent vectors from seeds, in the official scripts' order (z_geo first, then z_app)."""
from __future__ import annotations

import torch

from models.field.codes import Codes
from models.field.generator import Generator


def latents_for_seed(seed: int, z_geo_dim: int = 256, z_app_dim: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Same numbers as `torch.manual_seed(seed); randn(1, 256); randn(1, 256)` without touching the global RNG."""
    rng = torch.Generator().manual_seed(int(seed))
    return torch.randn(1, z_geo_dim, generator=rng), torch.randn(1, z_app_dim, generator=rng)


@torch.no_grad()
def codes_for_seeds(generator: Generator, seeds: list[int], psi: float = 1.0) -> Codes:
    """Truncated codes for a list of seeds, batched."""
    pairs = [latents_for_seed(s, generator.cfg.z_geo_dim, generator.cfg.z_app_dim) for s in seeds]
    z_geo = torch.cat([p[0] for p in pairs]).to(generator.device)
    z_app = torch.cat([p[1] for p in pairs]).to(generator.device)
    return generator.codes_for(z_geo, z_app, psi)
