"""Argument groups and helpers shared by the sub-commands (not a sub-command itself)."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from models.cli import CommandError


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", nargs="?", default=None,
                        help="a .fenerf model or an official <prefix>generator.pth "
                             "(default: $FENERF_CHECKPOINT, then checkpoints/demo.fenerf)")


def add_render_arguments(parser: argparse.ArgumentParser, size: int | None = None) -> None:
    group = parser.add_argument_group("rendering")
    group.add_argument("--size", type=int, default=size, help="image side in pixels (default: the model's)")
    group.add_argument("--steps", type=int, default=None, help="coarse samples per ray (same number of fine ones)")
    group.add_argument("--psi", type=float, default=None, help="truncation psi (default: the model's, 0.7 official)")
    group.add_argument("--mode", choices=("deterministic", "official"), default="deterministic",
                       help="official: stochastic jitter in the official RNG order; deterministic: no jitter")
    group.add_argument("--fov", type=float, default=None, help="field of view in degrees")
    group.add_argument("--lock-view", action="store_true", help="lock view-dependent colour (spec 4.4)")
    group.add_argument("--fill", default="black", choices=("black", "white", "grey", "light_grey"))
    group.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    group.add_argument("--threads", type=int, default=None, help="CPU threads for torch")


def load_model_from_args(args: argparse.Namespace):
    """Resolve and load the model named on the command line; one-line errors."""
    from models.io.errors import CheckpointError
    from models.io.model import load_model, resolve_model_path
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    try:
        model = load_model(resolve_model_path(args.checkpoint), device=args.device)
    except CheckpointError as exc:
        raise CommandError(str(exc)) from None
    for warning in model.info.get("warnings", []):
        print(f"warning: {warning}")
    return model


def render_options_from_args(args: argparse.Namespace, model):
    from models.render.options import RenderOptions
    d = model.render_defaults
    return RenderOptions(img_size=args.size or d.get("img_size", 128), num_steps=args.steps or d.get("num_steps", 24),
                         fov=args.fov or d.get("fov", 12.0), ray_start=d.get("ray_start", 0.88),
                         ray_end=d.get("ray_end", 1.12), lock_view=args.lock_view, fill_color=args.fill,
                         mode=args.mode)


def psi_from_args(args: argparse.Namespace, model) -> float:
    return args.psi if args.psi is not None else model.render_defaults.get("psi", 0.7)


def add_face_arguments(parser: argparse.ArgumentParser, codes_files: int = 1) -> None:
    """--seeds or --codes (official inversion results), and --out."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--seeds", type=int, nargs="+", default=None, help="latent seeds (default: 0)")
    group.add_argument("--codes", type=Path, nargs="+" if codes_files > 1 else 1, metavar="FILE",
                       help="an inverted portrait (.fcodes, or an official freq_phase_offset_*.pth)"
                       + (" or two of them to interpolate between" if codes_files > 1 else ""))
    parser.add_argument("--out", type=Path, required=True, help="output folder")


def faces_from_args(args: argparse.Namespace, model, psi: float, pairs: bool = False) -> list[tuple[str, list, object]]:
    """[(name, [Codes, ...], generator)]: one entry per seed (its codes, and with `pairs` those of
    seed + 1 to interpolate towards), or one entry holding the codes of the --codes files. The
    generator carries the first codes file's tuned weights when it names some (a tuned portrait
    renders as tuned everywhere), else it is the model's."""
    from models.export.common import portrait_from_file, seed_codes
    from models.io.errors import CheckpointError
    gen = model.generator
    if args.codes:
        try:
            portraits = [portrait_from_file(path, gen) for path in args.codes]
        except CheckpointError as exc:
            raise CommandError(str(exc)) from None
        return [("_".join(p.stem for p in args.codes), [codes for codes, _ in portraits], portraits[0][1])]
    return [(f"seed{s:04d}", [seed_codes(gen, t, psi) for t in ((s, s + 1) if pairs else (s,))], gen)
            for s in args.seeds or [0]]
