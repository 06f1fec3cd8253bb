"""The inversion losses (spec 12.4 step 3) and the mIoU metrics.

Left/right: the official models saw flipped masks without swapped labels (spec 8.5), so their
l/r channels are not tied to a side. With `merge_sides` the mask loss compares each l/r pair by
the larger of its two predicted channels against the union of the pair in the target, and the
mIoU merges the pairs; our demo model ties labels to sides (subject's left = image right) and
uses neither.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from models import labels
from models.field.codes import Codes

PRESENT_FRACTION = 0.001     # least share of the frame a class needs to count in the present-class mIoU
_PAIRS = tuple((a - 1, b - 1) for a, b in labels.LEFT_RIGHT_PAIRS)   # 18-channel indices
_RIGHT = {b for _, b in _PAIRS}


def merge_pairs(channels: torch.Tensor) -> torch.Tensor:
    """(..., 18) -> (..., 15): each l/r pair replaced by its elementwise max (in the left slot)."""
    out = channels.clone()
    for a, b in _PAIRS:
        out[..., a] = torch.maximum(channels[..., a], channels[..., b])
    keep = [c for c in range(channels.shape[-1]) if c not in _RIGHT]
    return out[..., keep]


def seg_loss(pred: torch.Tensor, target: torch.Tensor, merge_sides: bool = False,
             weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error between rendered label values and the {-1, +1} target, both (n, 18);
    with `weight` (n,), the per-pixel errors are averaged with those weights."""
    if merge_sides:
        pred, target = merge_pairs(pred), merge_pairs(target)
    if weight is None:
        return torch.mean((pred - target) ** 2)
    per_pixel = torch.mean((pred - target) ** 2, dim=-1)
    return torch.sum(per_pixel * weight) / torch.sum(weight)


def class_balance_weights(ids: np.ndarray, exponent: float, cap: float = 10.0) -> torch.Tensor:
    """Per-pixel weights (H*W,) that let small classes count: a pixel of class c weighs
    (largest class area / area of c) ** exponent, at most `cap`. The mIoU scores every class
    alike, however small; the plain mean squared error hardly sees eyes, lips or ears."""
    areas = np.bincount(ids.reshape(-1), minlength=labels.NUM_CLASSES).astype(np.float64)
    per_class = np.minimum((areas.max() / np.maximum(areas, 1.0)) ** exponent, cap)
    return torch.from_numpy(per_class[ids.reshape(-1)]).float()


def image_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of RGB in [-1, 1]."""
    return torch.mean((pred - target) ** 2)


def norm_loss(offset: Codes) -> torch.Tensor:
    """Sum over the four offset tensors of their mean square (the official `latent_normalize`)."""
    return sum(torch.mean(t ** 2) for t in offset.tensors())


def official_miou(pred: np.ndarray, target: np.ndarray) -> float:
    """The official metric: IoU of each of the 19 classes, |P and T| / (|P or T| + 1e-6), averaged
    over all 19 (classes absent from both count as 0, so it is biased low)."""
    ious = []
    for c in range(labels.NUM_CLASSES):
        p, t = pred == c, target == c
        ious.append((p & t).sum() / ((p | t).sum() + 1e-6))
    return float(np.mean(ious))


def present_miou(pred: np.ndarray, target: np.ndarray, merge_sides: bool = False) -> float:
    """Mean IoU over the classes present in the target (`models.labels.mean_iou`), a class counting
    as present from PRESENT_FRACTION of the frame on: the IoU of a 1-3 pixel sliver (an ear's edge in
    a frontal view) is noise, not a measure of the fit. The official 19-class metric has no such rule."""
    return labels.mean_iou(pred, target, merge_sides=merge_sides,
                           min_pixels=math.ceil(PRESENT_FRACTION * target.size))


def region_iou(pred: np.ndarray, target: np.ndarray, region: np.ndarray) -> float | None:
    """Mean IoU (classes present in the target there) restricted to the pixels of `region`."""
    if not region.any():
        return None
    return labels.mean_iou(pred[region], target[region])
