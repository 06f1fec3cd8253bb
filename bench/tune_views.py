"""Unseen views, measured against truth: does tuning on one frontal photo improve the views it never saw?

Draws N procedural heads from a seed (their truth is known from every view), fits codes to each
head's frontal image and mask with an inversion preset, tunes the generator around them with the
matching tuning preset, and scores image PSNR over the truth's foreground at the frontal view,
yaw -0.35 / +0.35 and pitch +0.15 against the heads' own renders, for code-only inversion and for
tuning. Gains are tuning minus code-only, per view; `side_gain_db_min` is the smallest gain of any
head at any side view (the goal: > 0, tuning never makes an unseen view worse).

    python bench/tune_views.py [--heads 8] [--seed 0] [--preset fast] [--json] [--write]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.data.head_params import HeadParams                            # noqa: E402
from models.data.head_render import render_heads                          # noqa: E402
from models.invert.image_metrics import foreground_psnr                   # noqa: E402
from models.invert.optimize import Inversion, RenderSetup                 # noqa: E402
from models.invert.presets import preset                                  # noqa: E402
from models.invert.targets import make_target                             # noqa: E402
from models.invert.tune import Tuning                                     # noqa: E402
from models.invert.tune_settings import tune_preset                       # noqa: E402
from models.io.model import DEMO_MODEL, load_model                        # noqa: E402
from models.render.options import RenderOptions                           # noqa: E402
from models.render.renderer import render                                 # noqa: E402

FRONT = math.pi / 2
VIEWS = {"frontal": (FRONT, FRONT), "yaw-0.35": (FRONT - 0.35, FRONT), "yaw+0.35": (FRONT + 0.35, FRONT),
         "pitch+0.15": (FRONT, FRONT + 0.15)}
SIZE = 128


def truth_views(params: HeadParams) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per view: the head's image (uint8 HxWx3) and ID mask."""
    out = {}
    for name, (yaw, pitch) in VIEWS.items():
        rgb, ids = render_heads(params, torch.tensor([yaw]), torch.tensor([pitch]), SIZE)
        out[name] = ((rgb[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), ids[0].numpy())
    return out


def view_psnrs(gen, codes, truth, setup: RenderSetup) -> dict[str, float]:
    opts = setup.options(SIZE, 24)
    scores = {}
    for name, (yaw, pitch) in VIEWS.items():
        rgb = render(gen, codes.to(gen.device), yaw, pitch, opts).rgb_uint8()
        scores[name] = foreground_psnr(rgb, truth[name][0], truth[name][1] > 0)
    return scores


def run_head(gen, setup, params, inv_settings, tune_settings) -> dict:
    truth = truth_views(params)
    rgb, ids = truth["frontal"]
    target = make_target(rgb, ids, inv_settings.size, "none")
    t0 = time.perf_counter()
    inversion = Inversion(gen, target, inv_settings, setup=setup)
    inversion.run()
    pivot = inversion.best.effective
    t1 = time.perf_counter()
    tuning = Tuning(gen, make_target(rgb, ids, tune_settings.size, "none"), pivot, tune_settings, setup=setup)
    tuning.run()
    t2 = time.perf_counter()
    code_only = view_psnrs(gen, pivot, truth, setup)
    tuned = view_psnrs(tuning.best_generator, pivot, truth, setup)
    return {"code_only": code_only, "tuned": tuned, "invert_s": t1 - t0, "tune_s": t2 - t1,
            "gain": {v: tuned[v] - code_only[v] for v in VIEWS}}


def summarise(heads: list[dict]) -> dict:
    sides = [h["gain"][v] for h in heads for v in VIEWS if v != "frontal"]
    return {"heads": len(heads),
            "frontal_gain_db": float(np.mean([h["gain"]["frontal"] for h in heads])),
            "side_gain_db_mean": float(np.mean(sides)),
            "side_gain_db_min": float(np.min(sides)),
            "seconds_per_head": float(np.mean([h["invert_s"] + h["tune_s"] for h in heads])),
            "tune_seconds_per_head": float(np.mean([h["tune_s"] for h in heads])),
            "per_view": {v: {"code_only_db": float(np.mean([h["code_only"][v] for h in heads])),
                             "tuned_db": float(np.mean([h["tuned"][v] for h in heads]))} for v in VIEWS}}


def table(summary: dict, args) -> str:
    lines = [f"{summary['heads']} procedural heads of seed {args.seed}; inversion preset `{args.preset}`, "
             f"tuning preset `{args.preset}`; PSNR over the truth's foreground at {SIZE}^2.", "",
             "| view | code-only | tuned | gain |", "|---|---|---|---|"]
    for view, row in summary["per_view"].items():
        lines.append(f"| {view} | {row['code_only_db']:.2f} dB | {row['tuned_db']:.2f} dB | "
                     f"{row['tuned_db'] - row['code_only_db']:+.2f} dB |")
    lines += ["", f"frontal gain {summary['frontal_gain_db']:+.2f} dB; side views: mean gain "
                  f"{summary['side_gain_db_mean']:+.2f} dB, smallest {summary['side_gain_db_min']:+.2f} dB; "
                  f"{summary['seconds_per_head']:.1f} s per head ({summary['tune_seconds_per_head']:.1f} s tuning)"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=DEMO_MODEL)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preset", default="fast", help="inversion and tuning preset")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--tune", default="{}", help="JSON overrides of the tuning settings (for experiments)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--write", action="store_true", help="replace the 'Tuning: unseen views' section of RESULTS.md")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.model)
    gen, setup = model.generator, RenderSetup.from_defaults(model.render_defaults)
    inv_settings = preset(args.preset).replace(lambda_percept=0.0)
    tune_settings = tune_preset(args.preset).replace(lambda_percept=0.0, **json.loads(args.tune))
    rng = torch.Generator().manual_seed(args.seed)
    z_geo = torch.randn(args.heads, gen.cfg.z_geo_dim, generator=rng)
    z_app = torch.randn(args.heads, gen.cfg.z_app_dim, generator=rng)
    heads = []
    for i in range(args.heads):
        params = HeadParams.from_latents(z_geo[i:i + 1], z_app[i:i + 1])
        heads.append(run_head(gen, setup, params, inv_settings, tune_settings))
        if not args.json:
            g = heads[-1]["gain"]
            print(f"head {i}: " + ", ".join(f"{v} {heads[-1]['code_only'][v]:.2f} -> {heads[-1]['tuned'][v]:.2f}"
                                            for v in VIEWS) + f" (min side gain {min(g[v] for v in VIEWS if v != 'frontal'):+.2f})",
                  flush=True)
    summary = summarise(heads)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(table(summary, args))
    if args.write:
        from bench.results import write_section
        write_section("Tuning: unseen views", table(summary, args))


if __name__ == "__main__":
    main()
