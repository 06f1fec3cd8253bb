"""`fenerf swap A B --out C`: A's geometry with B's appearance (appearance transfer)."""
from __future__ import annotations

import argparse
from pathlib import Path

from models.cli import CommandError


def register(sub) -> None:
    p = sub.add_parser("swap", help="appearance transfer: A's geometry with B's appearance codes",
                       description="Read two codes files (.fcodes or official freq_phase_offset_*.pth) and write "
                                   "C with A's effective geometry and B's effective appearance. C's format "
                                   "follows its suffix: .pth = official layout, otherwise ours (.fcodes). "
                                   "Tuned portraits: C gets A's tuned geometry weights with B's tuned "
                                   "appearance weights (C.ftune beside C).")
    p.add_argument("a", type=Path, help="codes giving the geometry")
    p.add_argument("b", type=Path, help="codes giving the appearance")
    p.add_argument("--out", type=Path, required=True, help="result codes file")
    p.add_argument("--preview", type=Path, help="also render a frontal image | mask PNG here")
    p.add_argument("--checkpoint", default=None,
                   help="model for --preview and for tuned portraits (default: the demo model)")
    p.add_argument("--size", type=int, default=128, help="preview side in pixels")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from models.invert.session_codes import load_codes, save_codes
    from models.invert.swap import swap_appearance, swap_tuned
    from models.invert.tuned_weights import SUFFIX as TUNED_SUFFIX, save_tuned, tuned_for_codes
    from models.io.errors import CheckpointError
    model = None
    try:
        a, b = load_codes(args.a), load_codes(args.b)
        a.info.setdefault("name", args.a.stem)
        b.info.setdefault("name", args.b.stem)
        result = swap_appearance(a, b)
        tuned = None
        if a.info.get("tuned") or b.info.get("tuned"):
            model = _model(args)
            tuned = swap_tuned(tuned_for_codes(args.a, a.info, model.generator),
                               tuned_for_codes(args.b, b.info, model.generator), model.generator)
        if tuned is not None:
            tuned_path = save_tuned(args.out.with_suffix(TUNED_SUFFIX), tuned)
            result.info["tuned"] = tuned_path.name
        save_codes(args.out, result)
    except (CheckpointError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    print(f"wrote {args.out}: geometry of {args.a.name}, appearance of {args.b.name}"
          f"{'' if tuned is None else f' (tuned weights: {tuned_path.name})'}")
    if args.preview:
        _preview(args, result, model or _model(args), tuned)
    return 0


def _model(args: argparse.Namespace):
    from models.cli._common import load_model_from_args
    return load_model_from_args(args)


def _preview(args: argparse.Namespace, codes, model, tuned) -> None:
    import math

    from models.io.images import hstack, save_image
    from models.render.options import RenderOptions
    from models.render.renderer import render
    gen = model.generator if tuned is None else tuned.applied(model.generator)
    try:
        codes.check_fits(gen.cfg.geo_code_dim, gen.cfg.app_code_dim, str(args.out))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    d = model.render_defaults
    opts = RenderOptions(img_size=args.size, num_steps=d.get("num_steps", 24), fov=d.get("fov", 12.0),
                         ray_start=d.get("ray_start", 0.88), ray_end=d.get("ray_end", 1.12))
    r = render(gen, codes.effective.to(gen.device), math.pi / 2, math.pi / 2, opts)
    save_image(args.preview, hstack([r.rgb_uint8(), r.mask_rgb()]))
    print(f"wrote {args.preview}")
