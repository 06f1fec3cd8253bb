"""Volume integration (spec 5.1) and the display fill / mask rules (spec 5.3)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from models.labels import NUM_CLASSES

FAR_DELTA = 1e10
OPACITY_THRESHOLD = 0.9
FILL_VALUES = {"black": 0.0, "white": 1.0, "grey": 0.5, "light_grey": 0.81}


def alpha_weights(sigma: torch.Tensor, depths: torch.Tensor, clamp_mode: str = "relu",
                  noise: torch.Tensor | None = None) -> torch.Tensor:
    """Compositing weights w_k = alpha_k * prod_{j<k}(1 - alpha_j + 1e-10) for raw densities (..., K)."""
    deltas = torch.cat([depths[..., 1:] - depths[..., :-1],
                        torch.full_like(depths[..., :1], FAR_DELTA)], -1)
    if noise is not None:
        sigma = sigma + noise
    density = F.softplus(sigma) if clamp_mode == "softplus" else F.relu(sigma)
    alpha = 1 - torch.exp(-deltas * density)
    shifted = torch.cat([torch.ones_like(alpha[..., :1]), 1 - alpha + 1e-10], -1)
    return alpha * torch.cumprod(shifted, -1)[..., :-1]


def composite(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """sum_k w_k c_k for weights (..., K) and values (..., K, C) -> (..., C)."""
    return torch.einsum("...k,...kc->...c", weights, values)


def fill_background(channels: torch.Tensor, opacity: torch.Tensor, color: str = "black") -> torch.Tensor:
    """Prepend the zero background channel to [18 labels, RGB] (..., 21) and overwrite rays with
    opacity < 0.9 by [1, fill x 21] (seg_padding_background). Values are still in [0, 1] space."""
    if color not in FILL_VALUES:
        raise ValueError(f"unknown fill colour {color!r}; choose from {sorted(FILL_VALUES)}")
    padded = torch.cat([torch.zeros_like(channels[..., :1]), channels], -1)
    fill = torch.full_like(padded[..., :1].expand_as(padded), FILL_VALUES[color])
    fill[..., 0] = 1.0
    return torch.where((opacity < OPACITY_THRESHOLD).unsqueeze(-1), fill, padded)


def label_mask(image: torch.Tensor) -> torch.Tensor:
    """Displayed mask: argmax over the first 19 channels [bg, labels 1..18] (ties -> lowest id)."""
    return torch.argmax(image[:, :NUM_CLASSES], dim=1).to(torch.uint8)
