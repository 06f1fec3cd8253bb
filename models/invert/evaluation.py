"""Scoring codes against a target: one deterministic frontal render, its mIoU and image error.

Used by the inversion loop at every evaluation and by the start search for its finalists, so both
rank codes by the same numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from models.field.codes import Codes
from models.field.generator import Generator
from models.invert import losses
from models.labels import merge_left_right
from models.render.options import RenderOptions
from models.render.renderer import render


@dataclass
class Preview:
    """A deterministic frontal render of the current codes at the evaluation size."""

    rgb: np.ndarray        # (R, R, 3) uint8
    mask: np.ndarray       # (R, R) uint8 ids


@dataclass
class Evaluation:
    miou: float            # present classes
    miou19: float          # the official 19-class metric
    image_mse: float       # RGB in [-1, 1]
    preview: Preview


def evaluate_frontal(generator: Generator, codes: Codes, opts: RenderOptions, ids: np.ndarray, rgb: torch.Tensor,
                     merge_sides: bool = False) -> Evaluation:
    """Render `codes` frontally with `opts` and score them against the target's `ids` and `rgb`
    ((R, R, 3) in [-1, 1]), both at `opts.img_size`; with `merge_sides` l/r labels count as one."""
    result = render(generator, codes.to(generator.device), math.pi / 2, math.pi / 2, opts)
    pred = result.mask_ids()
    scored, ids = (merge_left_right(pred), merge_left_right(ids)) if merge_sides else (pred, ids)
    image = result.image[0, -3:].permute(1, 2, 0).cpu()
    return Evaluation(losses.present_miou(scored, ids), losses.official_miou(scored, ids),
                      float(torch.mean((image - rgb) ** 2)), Preview(result.rgb_uint8(), pred))
