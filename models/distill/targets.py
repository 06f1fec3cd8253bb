"""What the generator's field should output at a point of a procedural head."""
from __future__ import annotations

from typing import NamedTuple

import torch

from models.data.head_field import head_field
from models.data.head_params import HeadParams
from models.labels import NUM_SEMANTIC

# Raw density target A * tanh(-sdf / softness): negative outside (ReLU -> empty), about A inside.
# A ray becomes opaque within ~0.015 of the surface: softer than the analytic field, which a small
# SIREN cannot reproduce exactly, but sharp at the scale of a 128^2 pixel (~0.0017).
DENSITY_AMPLITUDE = 200.0
DENSITY_SOFTNESS = 0.003
NEAR_SURFACE = 0.01


class FieldTargets(NamedTuple):
    density: torch.Tensor   # (B, N) raw density target
    labels: torch.Tensor    # (B, N, 18) one-hot of ids 1..18 (all zero for background)
    rgb: torch.Tensor       # (B, N, 3) in [0, 1]
    near: torch.Tensor      # (B, N) bool: within NEAR_SURFACE of the surface (colour/label matter there)


@torch.no_grad()
def field_targets(points: torch.Tensor, params: HeadParams) -> FieldTargets:
    sample = head_field(points, params)
    density = DENSITY_AMPLITUDE * torch.tanh(-sample.sdf / DENSITY_SOFTNESS)
    labels = torch.nn.functional.one_hot(sample.label, NUM_SEMANTIC + 1)[..., 1:].float()
    return FieldTargets(density, labels, sample.rgb, sample.sdf.abs() < NEAR_SURFACE)
