"""Render the demo model's sample grid (docs/demo_samples.png) shown in checkpoints/README.md.

    python docs/make_demo_samples.py [--model FILE] [--seeds 0 1 2 3 4 5] [--size 96]

Rows: seeds (psi 0.7); per view (yaw -0.4, frontal, +0.4): our render's image | mask, then the
procedural head the seed's latents describe (image | mask), so model and data can be compared.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from models.data.head_params import HeadParams  # noqa: E402
from models.data.head_render import render_heads  # noqa: E402
from models.field.latents import codes_for_seeds, latents_for_seed  # noqa: E402
from models.io.images import save_image  # noqa: E402
from models.io.model import DEMO_MODEL, load_model  # noqa: E402
from models.labels import colorize  # noqa: E402
from models.render.options import RenderOptions  # noqa: E402
from models.render.renderer import prepare, render  # noqa: E402

YAWS = (-0.4, 0.0, 0.4)


def sample_row(gen, seed: int, size: int) -> np.ndarray:
    """One seed: model image | mask per view, then the procedural head image | mask per view."""
    codes = codes_for_seeds(gen, [seed], 0.7)
    prepared = prepare(gen, codes)
    z_geo, z_app = latents_for_seed(seed, gen.cfg.z_geo_dim, gen.cfg.z_app_dim)
    model_tiles, data_tiles = [], []
    for offset in YAWS:
        yaw = math.pi / 2 + offset
        r = render(gen, codes, yaw, math.pi / 2, RenderOptions(img_size=size, num_steps=24), prepared=prepared)
        model_tiles += [r.rgb_uint8(), r.mask_rgb()]
        rgb, mask = render_heads(HeadParams.from_latents(z_geo, z_app), torch.tensor([yaw]),
                                 torch.tensor([math.pi / 2]), size)
        data_tiles += [(rgb[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8), colorize(mask[0].numpy())]
    gap = np.full((size, size // 8, 3), 255, np.uint8)
    return np.concatenate([*model_tiles, gap, *data_tiles], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEMO_MODEL)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "demo_samples.png")
    args = parser.parse_args()
    gen = load_model(args.model).generator
    with torch.no_grad():
        grid = np.concatenate([sample_row(gen, seed, args.size) for seed in args.seeds], 0)
    save_image(args.out, grid)
    print(f"wrote {args.out} ({grid.shape[1]}x{grid.shape[0]})")


if __name__ == "__main__":
    main()
