"""Where a reconstruction starts: the average codes (official), or the best of a few sample codes.

Gradient descent on the codes moves a head smoothly but cannot cross the jumps a generator learns
between discrete traits (a bob against a crop of short hair, hat or none). The CPU presets
therefore first score the average codes and `start_candidates` fixed sample codes with one small
deterministic frontal render each (the evaluation's, at most SCORE_SIZE wide) against the
target's mask (mean IoU over present classes) and image (MSE), and start from the best: a
nearest-neighbour initialisation, cheap next to the iterations it saves. The candidate seeds are
fixed, so runs stay reproducible.
"""
from __future__ import annotations

import math

import torch

from models.field.codes import Codes
from models.field.generator import Generator
from models.field.latents import codes_for_seeds
from models.invert import losses
from models.invert.targets import InversionTarget
from models.labels import merge_left_right
from models.render.options import RenderOptions
from models.render.renderer import render

CANDIDATE_SEED_BASE = 700_000      # far from the seeds users and tests pick
CANDIDATE_PSI = 0.7
SCORE_SIZE = 64                    # largest side of the scoring renders


def start_candidates(generator: Generator, count: int) -> list[tuple[str, Codes]]:
    """The average codes and `count` truncated sample codes, named for the run's info."""
    found = [("average codes", generator.average_codes())]
    if count > 0:
        seeds = [CANDIDATE_SEED_BASE + k for k in range(count)]
        batch = codes_for_seeds(generator, seeds, CANDIDATE_PSI)
        found += [(f"sample code {seed} (psi {CANDIDATE_PSI})", batch.select(k)) for k, seed in enumerate(seeds)]
    return found


@torch.no_grad()
def choose_start(generator: Generator, target: InversionTarget, count: int, use_image: bool,
                 render_options: RenderOptions, merge_sides: bool = False) -> tuple[str, Codes, float]:
    """The best-scoring candidate: (name, codes, score); score = mIoU - image MSE (without image
    terms, mIoU only), rendered with `render_options` (the run's evaluation) at most SCORE_SIZE wide."""
    size = min(SCORE_SIZE, target.size, render_options.img_size)
    ids = target.ids_at(size)
    if merge_sides:
        ids = merge_left_right(ids)
    rgb = torch.from_numpy(target.image_at(size)).float() / 127.5 - 1
    opts = render_options.replace(img_size=size)
    best = ("", None, -math.inf)
    for name, codes in start_candidates(generator, count):
        result = render(generator, codes, math.pi / 2, math.pi / 2, opts)
        pred = result.mask_ids()
        score = losses.present_miou(merge_left_right(pred) if merge_sides else pred, ids)
        if use_image:
            score -= float(torch.mean((result.image[0, -3:].permute(1, 2, 0).cpu() - rgb) ** 2))
        if score > best[2]:
            best = (name, codes, score)
    return best
