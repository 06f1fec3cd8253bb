"""Rendered procedural heads shared by the data tests (rendered once per session)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch

from models.data.head_params import HeadParams
from models.data.head_render import render_heads, sample_head_poses


@dataclass
class Rendered:
    params: HeadParams
    yaw: torch.Tensor
    pitch: torch.Tensor
    images: torch.Tensor   # (B, 3, R, R) in [0, 1]
    masks: torch.Tensor    # (B, R, R) uint8 ids


def render(count: int, seed: int, resolution: int, frontal: bool) -> Rendered:
    generator = torch.Generator().manual_seed(seed)
    params = HeadParams.sample(count, generator)
    if frontal:
        yaw = pitch = torch.full((count,), math.pi / 2)
    else:
        yaw, pitch = sample_head_poses(count, generator)
    with torch.inference_mode():
        images, masks = render_heads(params, yaw, pitch, resolution)
    return Rendered(params, yaw, pitch, images, masks)


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    """Every test in this folder runs on one torch thread (`tests/conftest.py`)."""


@pytest.fixture(scope="session")
def posed64() -> Rendered:
    """64 random heads at 64^2 from training poses."""
    return render(64, seed=2024, resolution=64, frontal=False)


@pytest.fixture(scope="session")
def frontal64() -> Rendered:
    """16 random heads at 64^2 from the frontal pose."""
    return render(16, seed=7, resolution=64, frontal=True)
