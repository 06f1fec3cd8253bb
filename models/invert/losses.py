"""The inversion losses (spec 12.4 step 3) and the mIoU metrics.

Left/right: the official models saw flipped masks without swapped labels (spec 8.5), so their
l/r channels are not tied to a side. With `merge_sides` the mask loss compares each l/r pair by
the larger of its two predicted channels against the union of the pair in the target, and the
mIoU merges the pairs; our demo model ties labels to sides (subject's left = image right) and
uses neither.
"""
from __future__ import annotations

import numpy as np
import torch

from models import labels
from models.field.codes import Codes

_PAIRS = tuple((a - 1, b - 1) for a, b in labels.LEFT_RIGHT_PAIRS)   # 18-channel indices
_RIGHT = {b for _, b in _PAIRS}


def merge_pairs(channels: torch.Tensor) -> torch.Tensor:
    """(..., 18) -> (..., 15): each l/r pair replaced by its elementwise max (in the left slot)."""
    out = channels.clone()
    for a, b in _PAIRS:
        out[..., a] = torch.maximum(channels[..., a], channels[..., b])
    keep = [c for c in range(channels.shape[-1]) if c not in _RIGHT]
    return out[..., keep]


def seg_loss(pred: torch.Tensor, target: torch.Tensor, merge_sides: bool = False) -> torch.Tensor:
    """Mean squared error between rendered label values and the {-1, +1} target, both (..., 18)."""
    if merge_sides:
        pred, target = merge_pairs(pred), merge_pairs(target)
    return torch.mean((pred - target) ** 2)


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
    """Mean IoU over the classes present in the target (`models.labels.mean_iou`)."""
    return labels.mean_iou(pred, target, merge_sides=merge_sides)


def region_iou(pred: np.ndarray, target: np.ndarray, region: np.ndarray) -> float | None:
    """Mean IoU (classes present in the target there) restricted to the pixels of `region`."""
    if not region.any():
        return None
    return labels.mean_iou(pred[region], target[region])
