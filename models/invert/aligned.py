"""Inversion targets from an arbitrary portrait photo: detect the face and crop photo and mask to
the model's own framing (what the app does on opening a photo), instead of assuming the photo is
already a CelebA-aligned portrait. The crop's transform is kept, so an edited mask drawn on the
same photo is cropped identically for the edit pass.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from models import intake
from models.invert.targets import (InversionTarget, TargetError, load_ids, make_target, match_mask_to_image,
                                   resize_ids)


def aligned_target(image_path: str | Path, mask_path: str | Path, size: int, framing: dict | None,
                   background_mask: bool = True, face_index: int = 0
                   ) -> tuple[InversionTarget, intake.AlignTransform]:
    """Align the photo's face to `framing` (a model's config framing; None = CelebA), crop photo
    and mask (ID mask in the photo's frame, any scale) alike, and build the target of side `size`."""
    notes: list[str] = []
    try:
        photo = intake.load_photo(image_path)
        face = intake.pick_face(intake.detect_faces(photo), face_index, photo.name)
        aligned = intake.align_face(photo, face, intake.framing_from_config(framing))
    except intake.IntakeError as exc:
        raise TargetError(f"{exc} (or give --crop celeba / none for a photo already cropped)") from None
    notes += [*photo.notes, *aligned.warnings]
    ids = _photo_ids(mask_path, photo.rgb.shape[:2], aligned.transform, notes)
    try:
        target = make_target(aligned.crop, ids, size, "none", background_mask, notes)
    except TargetError as exc:
        raise TargetError(f"{mask_path}: {exc}") from None
    return target, aligned.transform


def aligned_ids(mask_path: str | Path, transform: intake.AlignTransform, size: int) -> np.ndarray:
    """An ID mask drawn on the photo of `transform`, cropped like that photo, at side `size`."""
    width, height = transform.source_size
    return resize_ids(_photo_ids(mask_path, (height, width), transform, []), size)


def _photo_ids(mask_path: str | Path, photo_shape: tuple[int, int], transform: intake.AlignTransform,
               notes: list[str]) -> np.ndarray:
    ids = match_mask_to_image(load_ids(mask_path, notes), photo_shape, notes)
    return intake.crop_mask(ids, transform)
