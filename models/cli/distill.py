"""`fenerf distill`: bootstrap a generator by 3D supervision on the procedural heads (makes the demo model)."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("distill", help="train a generator by 3D supervision on procedural heads",
                       description="Supervise the field at 3D points (density, labels, colour) and its small "
                                   "volume renders against procedural heads. Resumable; exports RUN/model.fenerf.")
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--steps", type=int, default=None, help="total steps (default 12000)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--init", type=Path, default=None, help="start a new run from this model's weights")
    p.add_argument("--architecture", choices=("demo", "official-grid", "official-nogrid"), default="demo",
                   help="generator sizes of a new run: the demo model's (default) or the official checkpoints' "
                        "(model A, with the 96^3 latent grid, or model B, without)")
    p.add_argument("--batch", type=int, default=None, help="heads per step of a new run (default 8)")
    p.add_argument("--points", type=int, default=None, help="points per head and step of a new run (default 2048)")
    p.add_argument("--image-every", type=int, default=None,
                   help="steps between the small volume-render losses of a new run (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--export", type=Path, default=None, help="also write the final model here")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from models.distill.loop import DEMO_CONFIG, Distiller, DistillSettings
    from models.field.config import GeneratorConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    architecture = {"demo": DEMO_CONFIG, "official-grid": GeneratorConfig.official(grid=True),
                    "official-nogrid": GeneratorConfig.official(grid=False)}[args.architecture]
    settings = DistillSettings(seed=args.seed, generator=architecture.to_dict())
    for name in ("batch", "points", "image_every"):
        if getattr(args, name) is not None:
            setattr(settings, name, getattr(args, name))
    if args.steps:
        settings.steps = args.steps
    distiller = Distiller(args.out, settings, resume=args.resume, init=args.init)
    if args.resume and args.steps:
        distiller.settings.steps = args.steps
    total = distiller.settings.steps
    with tqdm(total=total, initial=distiller.step_count, unit="step") as bar:
        def report(step: int, losses: dict) -> bool:
            bar.update(1)
            bar.set_postfix(total=f"{losses['total']:.3f}")
            return True
        distiller.run(total, report)
    distiller.export(args.out / "model.fenerf")
    if args.export:
        distiller.export(args.export)
    print(f"exported {args.out / 'model.fenerf'} at step {distiller.step_count}")
    return 0
