"""Decoding a label-mask image file into CelebAMask-HQ ids (one reader for every part of the product)."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image

from models.labels import LabelError, decolorize, validate_ids

GREY_MODES = ("L", "I", "I;16")


def read_id_mask(path: str | os.PathLike) -> tuple[np.ndarray, bool]:
    """Return (ids uint8 (H, W), converted_from_colour). Accepts grey ID masks, images coloured with
    the official palette, and indexed PNGs (their colours if official, else their indices).
    Raises PIL/OS errors for unreadable files and `LabelError` for ids above 18 or foreign colours."""
    with Image.open(path) as image:
        image.load()
        indices = np.asarray(image) if image.mode == "P" else None
        array = np.asarray(image) if image.mode in GREY_MODES else np.asarray(image.convert("RGB"))
    if array.ndim == 2:
        return validate_ids(array), False
    if np.array_equal(array[..., 0], array[..., 1]) and np.array_equal(array[..., 1], array[..., 2]):
        return validate_ids(array[..., 0]), False
    try:
        return decolorize(array).astype(np.uint8), True
    except LabelError:
        if indices is None:
            raise
        return validate_ids(indices), False
