"""`fenerf inspect`: what a checkpoint is, its sizes, and whether it validates."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("inspect", help="describe and validate a checkpoint")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from models.cli import CommandError
    from models.io.errors import CheckpointError
    from models.io.model import load_model

    try:
        model = load_model(args.checkpoint)
    except CheckpointError as exc:
        raise CommandError(f"validation failed: {exc}") from None
    cfg = model.generator.cfg
    params = sum(p.numel() for p in model.generator.parameters())
    report = {
        "file": str(model.path),
        "kind": model.kind,
        "variant": "with latent grid" if cfg.grid else "without latent grid",
        "official_class": cfg.official_class,
        "sizes": cfg.to_dict(),
        "parameters": params,
        "ema": model.info.get("ema", False),
        "render_defaults": model.render_defaults,
        "framing": model.framing,
        "validation": "ok",
        "warnings": model.info.get("warnings", []),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['file']}\n  kind        {model.kind} ({report['variant']}, {cfg.official_class})")
    print(f"  parameters  {params:,}")
    grid = f", grid {cfg.grid_channels}x{cfg.grid_resolution}^3" if cfg.grid else ""
    print(f"  sizes       width {cfg.hidden_dim}, {cfg.geo_layers} geometry + {cfg.app_layers} texture FiLM layers, "
          f"mapping {cfg.mapping_depth}x{cfg.mapping_hidden}, {cfg.num_labels} labels{grid}")
    print(f"  EMA         {'applied' if report['ema'] else 'NOT applied (no EMA file found)'}")
    print(f"  render      {model.render_defaults}")
    for warning in report["warnings"]:
        print(f"  warning     {warning}")
    print("  validation  ok")
    return 0
