"""`fenerf multiview`: each face from five yaws (spec 13.1) as PNGs and grids.

Also holds the face-selection arguments shared by `fenerf video` and `fenerf mesh`."""
from __future__ import annotations

import argparse
from pathlib import Path

from models.cli import CommandError
from models.cli._common import (add_model_argument, add_render_arguments, load_model_from_args,
                                psi_from_args, render_options_from_args)


def add_face_arguments(parser: argparse.ArgumentParser, codes_files: int = 1) -> None:
    """--seeds or --codes (official inversion results), and --out."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--seeds", type=int, nargs="+", default=None, help="latent seeds (default: 0)")
    group.add_argument("--codes", type=Path, nargs="+" if codes_files > 1 else 1, metavar="FILE",
                       help="an inverted portrait (.fcodes, or an official freq_phase_offset_*.pth)"
                       + (" or two of them to interpolate between" if codes_files > 1 else ""))
    parser.add_argument("--out", type=Path, required=True, help="output folder")


def faces_from_args(args: argparse.Namespace, model, psi: float, pairs: bool = False) -> list[tuple[str, list]]:
    """[(name, [Codes, ...])]: one entry per seed (its codes, and with `pairs` those of seed + 1
    to interpolate towards), or one entry holding the codes of the --codes files."""
    from models.export.common import codes_from_file, seed_codes
    from models.io.errors import CheckpointError
    gen = model.generator
    if args.codes:
        try:
            codes = [codes_from_file(path, gen) for path in args.codes]
        except CheckpointError as exc:
            raise CommandError(str(exc)) from None
        return [("_".join(p.stem for p in args.codes), codes)]
    return [(f"seed{s:04d}", [seed_codes(gen, t, psi) for t in ((s, s + 1) if pairs else (s,))])
            for s in args.seeds or [0]]


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
        for name, codes in faces:
            results = render_views(model.generator, codes[0], opts, bake_resolution=args.baked,
                                   progress=lambda *_: bar.update())
            save_views(results, args.out, name)
    print(f"wrote {args.out}")
    return 0
