"""What an inversion fits: the portrait image and its ID mask, preprocessed per spec 12.2.

Official preprocessing ("celeba" crop): resize the shorter side to 320, centre-crop 256, then
resize to the working size. Unlike the official script, masks use NEAREST at every step (the
official bilinear resize invents wrong ids on boundaries) and images use area averaging when
shrinking (the official nearest resize aliases). "none" skips the crop (the input is already in
the model's framing, e.g. a render or an aligned crop). Background masking blacks out image
pixels whose mask id is 0 (the models were trained on black backgrounds).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from models import labels

CROPS = ("celeba", "none")
CELEBA_RESIZE, CELEBA_CROP = 320, 256
MIN_FOREGROUND = 0.01        # a mask with less foreground than this is refused as empty


class TargetError(ValueError):
    """An image or mask that cannot be used as an inversion target (message names the file)."""


@dataclass
class InversionTarget:
    """Image (3, S, S) in [-1, 1], 18-channel {-1, +1} mask encoding (18, S, S) and ids (S, S) at
    the working size S, plus `notes` (conversions applied, to tell the user)."""

    image: torch.Tensor
    semantic: torch.Tensor
    ids: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    def ids_at(self, size: int) -> np.ndarray:
        """The ID mask at another size (nearest)."""
        return resize_ids(self.ids, size)

    def image_at(self, size: int) -> np.ndarray:
        """The image as uint8 (size, size, 3) (area/linear resize)."""
        rgb = ((self.image.permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)
        return resize_image(rgb, size)

    def at(self, size: int) -> "InversionTarget":
        """The same target at another working size (itself when the size matches)."""
        if size == self.size:
            return self
        ids = self.ids_at(size)
        image = torch.from_numpy(self.image_at(size)).permute(2, 0, 1).float() / 127.5 - 1
        return InversionTarget(image, torch.from_numpy(labels.semantic_target(ids)), ids, list(self.notes))


def load_image(path: str | Path) -> np.ndarray:
    """An 8-bit RGB (H, W, 3) array; transparency composited on black."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
                return np.rint(rgba[..., :3] * rgba[..., 3:] / 255.0).astype(np.uint8)
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise TargetError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise TargetError(f"{path}: cannot read image ({exc})") from None


def load_ids(path: str | Path, notes: list[str] | None = None) -> np.ndarray:
    """An ID mask (ids 0..18). A colour mask in the CelebAMask-HQ palette is converted (noted);
    other colour images and ids above 18 are refused."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            colour = im.mode in ("RGB", "RGBA", "P", "LA", "PA")
            array = np.asarray(im.convert("RGB") if colour else im)
    except FileNotFoundError:
        raise TargetError(f"{path}: no such mask file") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise TargetError(f"{path}: cannot read mask ({exc})") from None
    try:
        return ids_from_array(array, notes)
    except (labels.LabelError, TargetError) as exc:
        raise TargetError(f"{path}: {exc}") from None


def ids_from_array(array: np.ndarray, notes: list[str] | None = None) -> np.ndarray:
    """ID map from a grey (H, W) or RGB (H, W, 3) array (palette colours converted)."""
    array = np.asarray(array)
    if array.ndim == 3:
        rgb = array[..., :3]
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
            array = rgb[..., 0]
        else:
            try:
                ids = labels.decolorize(rgb)
            except labels.LabelError as exc:
                raise TargetError(f"a colour image that is not a palette mask ({exc}); "
                                  "give an ID mask (grey PNG, ids 0..18)") from None
            if notes is not None:
                notes.append("mask: converted palette colours to label ids")
            return ids
    if not np.issubdtype(array.dtype, np.integer):
        raise TargetError(f"mask values must be integers 0..18, found {array.dtype}")
    return labels.validate_ids(array)


def resize_ids(ids: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour square resize of an ID map."""
    if ids.shape == (size, size):
        return ids
    return cv2.resize(np.ascontiguousarray(ids), (size, size), interpolation=cv2.INTER_NEAREST)


def resize_image(rgb: np.ndarray, size: int) -> np.ndarray:
    """Area resize when shrinking, bilinear when enlarging."""
    if rgb.shape[:2] == (size, size):
        return rgb
    shrink = size < rgb.shape[0]
    return cv2.resize(np.ascontiguousarray(rgb), (size, size),
                      interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _centre_crop(array: np.ndarray, crop: str, nearest: bool) -> np.ndarray:
    """Square centre crop; with "celeba" the shorter side is first resized to 320 and 256 kept."""
    h, w = array.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    array = array[top:top + side, left:left + side]
    if crop == "celeba":
        interp = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
        array = cv2.resize(np.ascontiguousarray(array), (CELEBA_RESIZE, CELEBA_RESIZE), interpolation=interp)
        m = (CELEBA_RESIZE - CELEBA_CROP) // 2
        array = array[m:m + CELEBA_CROP, m:m + CELEBA_CROP]
    return array


def match_mask_to_image(ids: np.ndarray, image_shape: tuple[int, int], notes: list[str]) -> np.ndarray:
    """Resize the mask (nearest) to the image's size when only the scale differs; refuse other
    aspect ratios (image and mask do not belong together)."""
    (mh, mw), (ih, iw) = ids.shape, image_shape
    if (mh, mw) == (ih, iw):
        return ids
    if abs(mh / mw - ih / iw) > 0.01:
        raise TargetError(f"mask is {mw}x{mh} but the image is {iw}x{ih}: different aspect ratios, "
                          "so they do not belong to the same picture")
    notes.append(f"mask: resized {mw}x{mh} -> {iw}x{ih} (nearest) to match the image")
    return cv2.resize(np.ascontiguousarray(ids), (iw, ih), interpolation=cv2.INTER_NEAREST)


def check_pair(rgb: np.ndarray, ids: np.ndarray) -> None:
    """Refuse an empty mask, and a mask whose foreground is where the image is pure black
    background (a mask of another picture, or one flipped or offset)."""
    fg = ids > 0
    if fg.mean() < MIN_FOREGROUND:
        raise TargetError("mask is empty (almost every pixel is background, id 0)")
    dark = rgb.max(-1) <= 8
    if dark.any() and (dark & fg).sum() > 0.5 * fg.sum():
        raise TargetError("image and mask do not match: most of the mask's face lies on black image "
                          "background")


def make_target(rgb: np.ndarray, ids: np.ndarray, size: int, crop: str = "celeba",
                background_mask: bool = True, notes: list[str] | None = None) -> InversionTarget:
    """Preprocess an RGB uint8 image and its ID mask into an `InversionTarget` of side `size`."""
    if crop not in CROPS:
        raise ValueError(f"unknown crop {crop!r}; choose from {CROPS}")
    notes = list(notes or [])
    ids = match_mask_to_image(labels.validate_ids(ids), rgb.shape[:2], notes)
    check_pair(rgb, ids)
    if background_mask:
        rgb = np.where((ids == 0)[..., None], 0, rgb).astype(np.uint8)
    rgb = resize_image(_centre_crop(rgb, crop, nearest=False), size)
    ids = resize_ids(_centre_crop(ids, crop, nearest=True), size)
    if not (ids > 0).any():
        raise TargetError("mask has no foreground left after cropping")
    image = torch.from_numpy(rgb).permute(2, 0, 1).float() / 127.5 - 1
    semantic = torch.from_numpy(labels.semantic_target(ids))
    return InversionTarget(image, semantic, ids, notes)


def crop_ids(ids: np.ndarray, size: int, crop: str = "celeba") -> np.ndarray:
    """An ID mask through the same crop as `make_target` (nearest throughout), for mask-only uses."""
    if crop not in CROPS:
        raise ValueError(f"unknown crop {crop!r}; choose from {CROPS}")
    return resize_ids(_centre_crop(labels.validate_ids(ids), crop, nearest=True), size)


def load_target(image_path: str | Path, mask_path: str | Path, size: int, crop: str = "celeba",
                background_mask: bool = True) -> InversionTarget:
    """Read, validate and preprocess an image file and its mask file."""
    notes: list[str] = []
    rgb = load_image(image_path)
    ids = load_ids(mask_path, notes)
    try:
        return make_target(rgb, ids, size, crop, background_mask, notes)
    except TargetError as exc:
        raise TargetError(f"{mask_path}: {exc}") from None
