"""`fenerf render`: image, colour mask, ID mask and depth for seeds and camera angles."""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from models.cli._common import (add_model_argument, add_render_arguments, load_model_from_args,
                                psi_from_args, render_options_from_args)


def register(sub) -> None:
    p = sub.add_parser("render", help="render image, mask and depth for seeds",
                       description="Render seeds from one or more camera angles. Angles in radians; "
                                   "yaw = pitch = pi/2 is the frontal view.")
    add_model_argument(p)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--yaw", type=float, nargs="+", default=[math.pi / 2], help="yaw angles (radians)")
    p.add_argument("--pitch", type=float, nargs="+", default=[math.pi / 2], help="pitch angles (radians)")
    p.add_argument("--seed-rng", type=int, default=0, help="RNG seed for official-mode jitter")
    p.add_argument("--out", type=Path, default=Path("renders"))
    add_render_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from tqdm import tqdm

    from models.field.latents import codes_for_seeds
    from models.io.images import depth_to_color, save_image
    from models.render.renderer import render

    model = load_model_from_args(args)
    opts = render_options_from_args(args, model)
    psi = psi_from_args(args, model)
    args.out.mkdir(parents=True, exist_ok=True)
    views = [(y, p) for y in args.yaw for p in args.pitch]
    print(f"{model.name} ({model.kind}): {len(args.seeds)} seed(s) x {len(views)} view(s), "
          f"{opts.img_size}px, {opts.num_steps}+{opts.num_steps} samples, psi {psi}, {opts.mode}")
    with tqdm(total=len(args.seeds) * len(views), unit="frame") as bar:
        for seed in args.seeds:
            codes = codes_for_seeds(model.generator, [seed], psi)
            for yaw, pitch in views:
                torch.manual_seed(args.seed_rng)
                result = render(model.generator, codes, yaw, pitch, opts)
                stem = args.out / f"seed{seed:04d}_yaw{yaw:.3f}_pitch{pitch:.3f}"
                save_image(f"{stem}_image.png", result.rgb_uint8())
                save_image(f"{stem}_mask_color.png", result.mask_rgb())
                save_image(f"{stem}_mask.png", result.mask_ids())
                save_image(f"{stem}_depth.png", depth_to_color(result.depth_array(), result.opacity[0].numpy()))
                np.save(f"{stem}_depth.npy", result.depth_array())
                bar.update()
    print(f"wrote {args.out}")
    return 0
