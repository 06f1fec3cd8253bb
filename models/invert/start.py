"""Where a reconstruction starts: the average codes (official), or the nearest of many sample codes.

Gradient descent on the codes moves a head smoothly but cannot cross the jumps a generator learns
between discrete traits (a bob against a crop of short hair, hat or none), and on a small model
whose eyes and lips shift with code changes of 0.01 it only polishes the start it is given. The
CPU presets therefore start from a nearest neighbour: the average codes and `start_candidates`
fixed sample codes (`models/invert/start_bank.py`: their frontal masks are rendered once per model
and cached) are ranked by the mIoU of their masks against the target's, and the best RESCORED of
them are rendered with the run's evaluation settings and scored by mIoU minus image MSE (mIoU
only without image terms). The candidate seeds are fixed, so runs stay reproducible.
"""
from __future__ import annotations

import math

import torch

from models.field.codes import Codes
from models.field.generator import Generator
from models.invert.evaluation import evaluate_frontal
from models.invert.start_bank import BANK_PSI, BANK_SIZE, Progress, start_bank
from models.invert.targets import InversionTarget
from models.labels import merge_left_right
from models.render.options import RenderOptions

RESCORED = 4                       # best-ranked candidates rendered again at the evaluation's settings


def candidate_name(seed: int) -> str:
    """How a run's info names a bank candidate."""
    return f"sample code {seed} (psi {BANK_PSI})"


@torch.no_grad()
def choose_start(generator: Generator, target: InversionTarget, count: int, use_image: bool,
                 render_options: RenderOptions, merge_sides: bool = False,
                 progress: Progress | None = None) -> tuple[str, Codes, float]:
    """The best-scoring candidate: (name, codes, score), score = mIoU - image MSE (without image
    terms, mIoU only) of a render with `render_options` (the run's evaluation). `progress(done,
    total)` follows the first rendering of a model's bank; it may raise to cancel."""
    size = render_options.img_size
    ids, rgb = target.ids_at(size), torch.from_numpy(target.image_at(size)).float() / 127.5 - 1

    def score(codes: Codes) -> float:
        ev = evaluate_frontal(generator, codes, render_options, ids, rgb, merge_sides)
        return ev.miou - (ev.image_mse if use_image else 0.0)

    finalists = [("average codes", generator.average_codes())]
    if count > 0:
        bank = start_bank(generator, count, render_options, progress)
        bank_ids = target.ids_at(BANK_SIZE)
        ranked = bank.ranked(merge_left_right(bank_ids) if merge_sides else bank_ids, merge_sides)
        finalists += [(candidate_name(bank.seeds[k]), bank.codes.select(k)) for _, k in ranked[:RESCORED]]
    best = ("", None, -math.inf)
    for name, codes in finalists:
        value = score(codes)
        if value > best[2]:
            best = (name, codes, value)
    return best
