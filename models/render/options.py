"""Rendering options (spec 6.1) and the render result."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from models.labels import colorize

MODES = ("deterministic", "official")


@dataclass(frozen=True)
class RenderOptions:
    """Everything that shapes a render except the pose and the codes.

    mode: `official` jitters depths and importance samples with the official RNG order (a fixed
    seed reproduces official renders); `deterministic` uses stratified midpoints instead.
    accelerate: in deterministic mode, skip work that cannot change the displayed result
    (heads on filled rays and on negligible samples, fine pass on empty rays).
    """

    img_size: int = 64
    fov: float = 12.0
    ray_start: float = 0.88
    ray_end: float = 1.12
    num_steps: int = 24
    hierarchical: bool = True
    lock_view: bool = False
    clamp_mode: str = "relu"
    nerf_noise: float = 0.0
    fill_mode: str | None = "seg_padding_background"
    fill_color: str = "black"
    mode: str = "deterministic"
    accelerate: bool = True
    chunk_points: int = 8192

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown render mode {self.mode!r}; choose from {MODES}")
        if self.img_size < 2 or self.num_steps < 2:
            raise ValueError("img_size and num_steps must be at least 2")

    def replace(self, **changes) -> "RenderOptions":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def samples_per_ray(self) -> int:
        return self.num_steps * (2 if self.hierarchical else 1)


def chunk_points_for_budget(budget_mb: float, hidden_dim: int) -> int:
    """Points per network chunk that keep activations of one chunk within a memory budget."""
    bytes_per_point = 4 * (3 * hidden_dim + 64)
    return max(256, int(budget_mb * 2 ** 20 / bytes_per_point))


@dataclass
class RenderResult:
    """image (B, 22, R, R) = [background, 18 labels, RGB] mapped to [-1, 1] (21 channels without a
    fill mode); depth and opacity (B, R, R); mask (B, R, R) uint8 label ids (None without fill)."""

    image: torch.Tensor
    depth: torch.Tensor
    opacity: torch.Tensor
    mask: torch.Tensor | None

    def rgb_uint8(self, index: int = 0) -> np.ndarray:
        rgb = self.image[index, -3:].permute(1, 2, 0).float()
        return ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()

    def mask_ids(self, index: int = 0) -> np.ndarray:
        return self.mask[index].cpu().numpy()

    def mask_rgb(self, index: int = 0) -> np.ndarray:
        return colorize(self.mask_ids(index))

    def depth_array(self, index: int = 0) -> np.ndarray:
        return self.depth[index].float().cpu().numpy()
