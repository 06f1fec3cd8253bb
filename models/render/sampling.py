"""Depth samples along rays (spec 4.1, 4.2, 4.5): stratified grid, jitter, importance sampling.

`official` draws the same random numbers in the same order as the official renderer;
`deterministic` replaces each draw by its stratified midpoint.
"""
from __future__ import annotations

import torch

COARSE_WEIGHT_EPS = 1e-5


def depth_grid(n_rays: int, steps: int, ray_start: float, ray_end: float, device=None) -> torch.Tensor:
    """Evenly spaced depths (n_rays, S)."""
    return torch.linspace(ray_start, ray_end, steps, device=device).expand(n_rays, steps)


def jitter_depths(depths: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Move every depth by (u - 0.5) * spacing (the official stratified jitter)."""
    spacing = depths[..., 1:2] - depths[..., 0:1]
    return depths + (uniforms - 0.5) * spacing


def sample_pdf(bins: torch.Tensor, weights: torch.Tensor, uniforms: torch.Tensor, eps: float = 1e-5
               ) -> torch.Tensor:
    """Inverse-CDF sampling: bins (N, M+1) edges, weights (N, M), uniforms (N, K) -> depths (N, K)."""
    weights = weights + eps
    pdf = weights / weights.sum(-1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, -1)], -1)
    idx = torch.searchsorted(cdf, uniforms.contiguous(), right=True)
    below = torch.clamp_min(idx - 1, 0)
    above = torch.clamp_max(idx, cdf.shape[-1] - 1)
    cdf_lo, cdf_hi = torch.gather(cdf, 1, below), torch.gather(cdf, 1, above)
    bin_lo, bin_hi = torch.gather(bins, 1, below), torch.gather(bins, 1, above)
    denom = cdf_hi - cdf_lo
    denom = torch.where(denom < eps, torch.ones_like(denom), denom)
    return bin_lo + (uniforms - cdf_lo) / denom * (bin_hi - bin_lo)


def fine_depths(coarse_depths: torch.Tensor, coarse_weights: torch.Tensor, uniforms: torch.Tensor
                ) -> torch.Tensor:
    """Importance samples from coarse weights (N, S): bins between coarse midpoints, end weights dropped."""
    mids = 0.5 * (coarse_depths[:, :-1] + coarse_depths[:, 1:])
    return sample_pdf(mids, coarse_weights[:, 1:-1] + COARSE_WEIGHT_EPS, uniforms).detach()


def stratified_uniforms(n_rays: int, count: int, device=None) -> torch.Tensor:
    """Deterministic stand-ins for U(0, 1) draws: midpoints (k + 0.5) / count."""
    return ((torch.arange(count, device=device) + 0.5) / count).expand(n_rays, count)
