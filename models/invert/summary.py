"""`summary.json` of an inversion folder: how close the result is to the photo, and where the time went.

Everything is measured on one deterministic frontal render at the evaluation size against the
aligned photo crop and the mask it was fitted to: PSNR and SSIM over the foreground (mask is not
background), present-class and official 19-class mIoU, per-class IoU, seconds per stage. An edit
adds the IoU inside / outside the edited region and the PSNR outside it against the render
before the edit (the rest of the face should not move).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from models import labels
from models.field.codes import Codes
from models.field.generator import Generator
from models.invert import losses
from models.invert.image_metrics import foreground_psnr, foreground_ssim
from models.io.atomic import atomic_write_text
from models.render.options import RenderOptions
from models.render.renderer import render

FILE_NAME = "summary.json"


def frontal_render(generator: Generator, codes: Codes, opts: RenderOptions) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8, ID mask) of a deterministic frontal render."""
    r = render(generator, codes.to(generator.device), math.pi / 2, math.pi / 2, opts)
    return r.rgb_uint8(), r.mask_ids()


def fidelity(rgb: np.ndarray, mask: np.ndarray, target_rgb: np.ndarray, target_ids: np.ndarray,
             merge_sides: bool = False) -> dict:
    """Foreground PSNR / SSIM, present-class and 19-class mIoU and per-class IoU (by label name)."""
    pred, ids = (labels.merge_left_right(mask), labels.merge_left_right(target_ids)) if merge_sides \
        else (mask, target_ids)
    foreground = target_ids > 0
    return {"psnr": round(foreground_psnr(rgb, target_rgb, foreground), 3),
            "ssim": round(foreground_ssim(rgb, target_rgb, foreground), 4),
            "miou": round(losses.present_miou(pred, ids), 4),
            "miou19": round(losses.official_miou(pred, ids), 4),
            "per_class": {labels.NAMES[c]: round(v, 4) for c, v in labels.per_class_iou(pred, ids).items()}}


def edit_locality(before: tuple[np.ndarray, np.ndarray], after: tuple[np.ndarray, np.ndarray],
                  original_ids: np.ndarray, edited_ids: np.ndarray) -> dict:
    """IoU to the edited mask inside / outside the edited region before and after, and the PSNR of
    the after-render against the before-render outside the region (over the before-render's head)."""
    from models.invert.edit import edit_report, edit_region
    size = after[1].shape[0]
    region = edit_region(original_ids, edited_ids, size)
    report = edit_report(before[1], after[1], original_ids, edited_ids)
    outside = ~region & ((before[1] > 0) | (after[1] > 0))
    return {"region_fraction": round(report.region_fraction, 4),
            "inside_iou_before": report.inside_before, "inside_iou_after": report.inside_after,
            "outside_iou_before": report.outside_before, "outside_iou_after": report.outside_after,
            "outside_psnr_vs_before": round(foreground_psnr(after[0], before[0], outside), 3)
            if outside.any() else None}


def write_summary(out: Path, summary: dict) -> Path:
    """Write `summary.json` atomically."""
    path = Path(out) / FILE_NAME
    atomic_write_text(path, json.dumps(summary, indent=1) + "\n")
    return path
