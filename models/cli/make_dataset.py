"""`fenerf make-dataset OUT`: render a procedural, 3D-consistent labelled-head dataset."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "make-dataset", help="render a procedural labelled-head dataset (CelebAMask-HQ layout)",
        description="Render procedural heads with ID masks into OUT/celebahq_mask_img/<k>.jpg and "
                    "OUT/celebahq_mask_mask/<k>.png, plus meta.json and latents.npz. Deterministic "
                    "given the seed; an interrupted run can be re-run to complete it.")
    parser.add_argument("out", metavar="OUT", help="output folder (created if missing)")
    parser.add_argument("--count", type=int, default=1000, help="number of pairs (default 1000)")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="rendering processes (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from models.cli import CommandError
    from models.data.writer import write_dataset

    if args.count < 1:
        raise CommandError(f"--count must be at least 1, got {args.count}")
    if not 8 <= args.size <= 1024:
        raise CommandError(f"--size must be between 8 and 1024, got {args.size}")
    if args.workers < 1:
        raise CommandError(f"--workers must be at least 1, got {args.workers}")
    if args.seed < 0:
        raise CommandError(f"--seed must not be negative, got {args.seed}")
    out = write_dataset(args.out, args.count, args.size, args.seed, args.workers, progress=not args.quiet)
    print(f"wrote {args.count} pairs of {args.size}x{args.size} to {out}")
    return 0
