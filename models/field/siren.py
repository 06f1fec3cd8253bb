"""FiLM-SIREN building blocks (spec 3.1, 3.4): mapping network, FiLM layer, box warp, grid sampling."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

FREQ_SCALE = 15.0
FREQ_OFFSET = 30.0


class MappingNetwork(nn.Module):
    """z -> (frequencies, phase shifts): Linear+LeakyReLU(0.2) blocks, then one Linear; the output is
    split in half (first half frequencies, second half phases)."""

    def __init__(self, z_dim: int, hidden: int, depth: int, out_dim: int):
        super().__init__()
        layers: list[nn.Module] = []
        width = z_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        layers.append(nn.Linear(width, out_dim))
        self.network = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.network(z)
        half = out.shape[-1] // 2
        return out[..., :half], out[..., half:]

    def init_official(self) -> None:
        """Kaiming-normal weights (slope 0.2, fan_in), last layer scaled by 0.25 (spec 3.6)."""
        for m in self.network:
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, a=0.2, mode="fan_in", nonlinearity="leaky_relu")
        with torch.no_grad():
            self.network[-1].weight *= 0.25


class FiLMLayer(nn.Module):
    """h = sin(f * (W x + b) + p), with per-sample codes broadcast over the point axis."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.layer = nn.Linear(in_dim, out_dim)

    def forward(self, x: torch.Tensor, freq: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        return torch.sin(freq.unsqueeze(1) * self.layer(x) + phase.unsqueeze(1))


def film_layer_init(layer: nn.Linear, first: bool = False) -> None:
    """SIREN init: U(+-sqrt(6/fan_in)/25), or U(+-1/3) for the first geometry layer (spec 3.6)."""
    with torch.no_grad():
        bound = 1 / 3 if first else math.sqrt(6 / layer.in_features) / 25
        layer.weight.uniform_(-bound, bound)


def effective_frequencies(freq: torch.Tensor) -> torch.Tensor:
    return freq * FREQ_SCALE + FREQ_OFFSET


def sample_grid(grid: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Trilinear features (B, N, C) of a (1, C, D, H, W) volume at warped points q (B, N, 3) in [-1, 1],
    align_corners=True, zeros outside; q_x indexes W, q_y H, q_z D."""
    b, n, _ = q.shape
    out = F.grid_sample(grid.expand(b, -1, -1, -1, -1), q.reshape(b, 1, 1, n, 3),
                        mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.reshape(b, grid.shape[1], n).transpose(1, 2)
