"""The demo model for the inversion tests, and a target rendered by it from a known code."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from models.field.latents import codes_for_seeds
from models.io.model import DEMO_MODEL, load_model
from models.render.options import RenderOptions
from models.render.renderer import render

# FENERF_TEST_DEMO_MODEL: use another copy of the demo model (e.g. a training run's export)
DEMO_OVERRIDE = "FENERF_TEST_DEMO_MODEL"
KNOWN_SEED, KNOWN_PSI = 3, 0.7


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    """Every test in this folder runs on one torch thread (`tests/conftest.py`)."""


@pytest.fixture(scope="session")
def demo_model():
    path = Path(os.environ.get(DEMO_OVERRIDE, DEMO_MODEL))
    if not path.is_file():
        message = f"demo model {path} is missing (inversion acceptance needs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return load_model(path)


def known_codes(model):
    return codes_for_seeds(model.generator, [KNOWN_SEED], KNOWN_PSI)


def self_render(model, codes, size: int, steps: int = 16):
    """Deterministic frontal render -> (rgb uint8, mask ids), as a user's image + mask."""
    d = model.render_defaults
    opts = RenderOptions(img_size=size, num_steps=steps, fov=d.get("fov", 12.0),
                         ray_start=d.get("ray_start", 0.88), ray_end=d.get("ray_end", 1.12))
    with torch.no_grad():
        r = render(model.generator, codes, opts=opts)
    return r.rgb_uint8(), r.mask_ids()
