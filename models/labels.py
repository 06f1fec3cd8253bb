"""The 19 CelebAMask-HQ labels (spec 8.1): ids, names, palette and encodings.

Every part of the product uses this one table.
"""
from __future__ import annotations

import numpy as np

NAMES: tuple[str, ...] = (
    "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow",
    "l_ear", "r_ear", "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l",
    "neck", "cloth",
)
NUM_CLASSES = len(NAMES)          # 19, background included
NUM_SEMANTIC = NUM_CLASSES - 1    # 18 channels rendered by the generator

PALETTE = np.array([
    (0, 0, 0), (204, 0, 0), (76, 153, 0), (204, 204, 0), (51, 51, 255), (204, 0, 204),
    (0, 255, 255), (255, 204, 204), (102, 51, 0), (255, 0, 0), (102, 204, 0),
    (255, 255, 0), (0, 0, 153), (0, 0, 204), (255, 51, 153), (0, 204, 204),
    (0, 51, 0), (255, 153, 51), (0, 204, 0),
], dtype=np.uint8)

ID = {name: i for i, name in enumerate(NAMES)}

# Left/right pairs; the official training flips without swapping them (spec 8.5).
LEFT_RIGHT_PAIRS: tuple[tuple[int, int], ...] = ((4, 5), (6, 7), (8, 9))


class LabelError(ValueError):
    """A mask that is not a valid 19-class ID map."""


def colorize(mask: np.ndarray) -> np.ndarray:
    """ID map (H, W) -> RGB (H, W, 3) uint8 with the official palette; unknown ids stay black."""
    mask = np.asarray(mask)
    out = np.zeros(mask.shape + (3,), np.uint8)
    valid = mask < NUM_CLASSES
    out[valid] = PALETTE[mask[valid]]
    return out


def decolorize(rgb: np.ndarray) -> np.ndarray:
    """RGB palette image (H, W, 3) -> ID map; raises LabelError if a colour is off the palette."""
    rgb = np.asarray(rgb)[..., :3].astype(np.int32)
    codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    pal = (PALETTE[:, 0].astype(np.int32) << 16) | (PALETTE[:, 1].astype(np.int32) << 8) | PALETTE[:, 2]
    lookup = {int(c): i for i, c in enumerate(pal)}
    uniq, inverse = np.unique(codes, return_inverse=True)
    ids = np.empty(len(uniq), np.uint8)
    for k, c in enumerate(uniq):
        if int(c) not in lookup:
            raise LabelError(
                f"colour #{int(c):06x} is not in the CelebAMask-HQ palette; cannot convert to label ids")
        ids[k] = lookup[int(c)]
    return ids[inverse].reshape(codes.shape)


def validate_ids(mask: np.ndarray) -> np.ndarray:
    """Return the mask as uint8 after checking that it holds only ids 0..18."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise LabelError(f"an ID mask must be single-channel, got shape {mask.shape}")
    if mask.size and int(mask.max()) >= NUM_CLASSES:
        bad = sorted(int(v) for v in np.unique(mask[mask >= NUM_CLASSES])[:5])
        raise LabelError(f"mask holds ids above 18 ({bad}...): is it a colour or greyscale image?")
    return mask.astype(np.uint8)


def one_hot(mask: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """(H, W) ids -> (num_classes, H, W) float32 one-hot (channel c = id c)."""
    mask = np.asarray(mask)
    return (mask[None] == np.arange(num_classes)[:, None, None]).astype(np.float32)


def semantic_target(mask: np.ndarray) -> np.ndarray:
    """The 18-channel {-1, +1} encoding of spec 8.3 (channel c = id c + 1; background all -1)."""
    return one_hot(mask)[1:] * 2.0 - 1.0


def merge_left_right(mask: np.ndarray) -> np.ndarray:
    """Map every right-side id onto its left partner, for side-agnostic comparisons."""
    out = np.array(mask, copy=True)
    for left, right in LEFT_RIGHT_PAIRS:
        out[out == right] = left
    return out


def per_class_iou(pred: np.ndarray, target: np.ndarray) -> dict[int, float]:
    """IoU for every id present in the target or the prediction."""
    result = {}
    for c in np.union1d(np.unique(pred), np.unique(target)):
        p, t = pred == c, target == c
        result[int(c)] = float((p & t).sum() / max((p | t).sum(), 1))
    return result


def mean_iou(pred: np.ndarray, target: np.ndarray, merge_sides: bool = False, min_pixels: int = 1) -> float:
    """Mean IoU over the classes present in the target (absent classes are not counted as zero);
    a class counts as present from `min_pixels` target pixels on."""
    if merge_sides:
        pred, target = merge_left_right(pred), merge_left_right(target)
    ious = per_class_iou(pred, target)
    counts = np.bincount(np.asarray(target).reshape(-1), minlength=NUM_CLASSES)
    present = [c for c in range(len(counts)) if counts[c] >= max(1, min_pixels)]
    return float(np.mean([ious[c] for c in present])) if present else 0.0
