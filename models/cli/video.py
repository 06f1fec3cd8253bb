"""`fenerf video`: orbit and latent-interpolation videos, frames [RGB | colour mask | depth]."""
from __future__ import annotations

import argparse

from models.cli import CommandError
from models.cli._common import (add_model_argument, add_render_arguments, load_model_from_args,
                                psi_from_args, render_options_from_args)
from models.cli._common import add_face_arguments, faces_from_args

VIDEO_FORMATS = ("mp4", "gif")


def register(sub) -> None:
    from models.export.video import DEFAULT_FPS, LATENTS, TRAJECTORIES
    p = sub.add_parser("video", help="orbit / interpolation videos (mp4, gif)",
                       description="A video per face along a camera trajectory. --latent none keeps the face "
                                   "(rendered from one bake: fast, view locked); geo, app or both interpolate "
                                   "from seed to seed + 1, or between two --codes files (rendered directly).")
    add_model_argument(p)
    add_face_arguments(p, codes_files=2)
    p.add_argument("--latent", choices=LATENTS, default="none")
    p.add_argument("--trajectory", choices=TRAJECTORIES, default="front")
    p.add_argument("--frames", type=int, default=36)
    p.add_argument("--fps", type=int, default=DEFAULT_FPS)
    p.add_argument("--formats", choices=VIDEO_FORMATS, nargs="+", default=list(VIDEO_FORMATS))
    p.add_argument("--bake-resolution", type=int, default=128, metavar="RES",
                   help="bake resolution for --latent none (cells per side)")
    add_render_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from models.export.video import render_frames, save_gif, save_mp4

    if args.frames < 1:
        raise CommandError("--frames must be at least 1")
    if args.codes and len(args.codes) > 2:
        raise CommandError("--codes takes one file, or two to interpolate between")
    if args.codes and args.latent != "none" and len(args.codes) != 2:
        raise CommandError(f"--latent {args.latent} with --codes needs two files to interpolate between")
    model = load_model_from_args(args)
    opts = render_options_from_args(args, model)
    faces = faces_from_args(args, model, psi_from_args(args, model), pairs=args.latent != "none")
    args.out.mkdir(parents=True, exist_ok=True)
    source = f"bake {args.bake_resolution}^3" if args.latent == "none" else "direct renders"
    print(f"{model.name} ({model.kind}): {len(faces)} video(s), {args.frames} frames, {args.trajectory}, "
          f"latent {args.latent}, {opts.img_size}px, {source}")
    for name, codes, gen in faces:
        with tqdm(total=args.frames, unit="frame", desc=name) as bar:
            frames = render_frames(gen, codes[0], codes[1] if len(codes) > 1 else None, args.latent,
                                   args.trajectory, args.frames, opts, args.bake_resolution,
                                   progress=lambda *_: bar.update())
        stem = args.out / f"video_{args.latent}_{args.trajectory}_{name}"
        for fmt in args.formats:
            path = (save_mp4 if fmt == "mp4" else save_gif)(f"{stem}.{fmt}", frames, args.fps)
            print(f"wrote {path}")
    return 0
