"""`fenerf multiview`: each face from five yaws (spec 13.1) as PNGs and grids."""
from __future__ import annotations

import argparse

from models.cli._common import (add_face_arguments, add_model_argument, add_render_arguments, faces_from_args,
                                load_model_from_args, psi_from_args, render_options_from_args)


def register(sub) -> None:
    p = sub.add_parser("multiview", help="render each face from five yaws: PNGs and grids",
                       description="Render faces at yaw pi/2 + {-0.5, -0.25, 0, 0.25, 0.5}, pitch pi/2 "
                                   "(the official multiview script): per view image, colour mask and ID mask, "
                                   "plus grid_<name>_RGB.png and grid_<name>_SEG.png.")
    add_model_argument(p)
    add_face_arguments(p)
    p.add_argument("--baked", type=int, default=None, metavar="RES",
                   help="render from a bake at RES^3 (fast, view locked) instead of directly")
    add_render_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from models.export.multiview import VIEW_OFFSETS, render_views, save_views

    model = load_model_from_args(args)
    opts = render_options_from_args(args, model)
    faces = faces_from_args(args, model, psi_from_args(args, model))
    args.out.mkdir(parents=True, exist_ok=True)
    source = f"bake {args.baked}^3" if args.baked else f"{opts.num_steps}+{opts.num_steps} samples, {opts.mode}"
    print(f"{model.name} ({model.kind}): {len(faces)} face(s) x {len(VIEW_OFFSETS)} views, {opts.img_size}px, {source}")
    with tqdm(total=len(faces) * len(VIEW_OFFSETS), unit="view") as bar:
        for name, codes, gen in faces:
            results = render_views(gen, codes[0], opts, bake_resolution=args.baked,
                                   progress=lambda *_: bar.update())
            save_views(results, args.out, name)
    print(f"wrote {args.out}")
    return 0
