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
from models.invert import losses
from models.invert.start_bank import BANK_PSI, BANK_SIZE, Progress, start_bank
from models.invert.targets import InversionTarget
from models.labels import merge_left_right
from models.render.options import RenderOptions
from models.render.renderer import render

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
    average = ("average codes", generator.average_codes())
    if count <= 0:
        return (*average, _score(generator, average[1], target, use_image, render_options, merge_sides))
    bank = start_bank(generator, count, render_options, progress)
    ids = target.ids_at(BANK_SIZE)
    if merge_sides:
        ids = merge_left_right(ids)
    ranked = [(candidate_name(bank.seeds[k]), bank.codes.select(k)) for _, k in bank.ranked(ids, merge_sides)]
    best = ("", None, -math.inf)
    for name, codes in [average] + ranked[:RESCORED]:
        score = _score(generator, codes, target, use_image, render_options, merge_sides)
        if score > best[2]:
            best = (name, codes, score)
    return best


def _score(generator: Generator, codes: Codes, target: InversionTarget, use_image: bool, opts: RenderOptions,
           merge_sides: bool) -> float:
    result = render(generator, codes.to(generator.device), math.pi / 2, math.pi / 2, opts)
    pred = result.mask_ids()
    ids = target.ids_at(opts.img_size)
    if merge_sides:
        pred, ids = merge_left_right(pred), merge_left_right(ids)
    score = losses.present_miou(pred, ids)
    if use_image:
        rgb = torch.from_numpy(target.image_at(opts.img_size)).float() / 127.5 - 1
        score -= float(torch.mean((result.image[0, -3:].permute(1, 2, 0).cpu() - rgb) ** 2))
    return score
