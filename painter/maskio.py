"""Reading and writing ID masks, photos and colour previews (no Qt).

Masks are stored as single-channel 8-bit PNGs holding the ids 0..18 (spec 8.2). Writes are
atomic: the file is written next to its target and moved over it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from models.io.atomic import atomic_write_stream
from models.io.masks import read_id_mask
from models.labels import LabelError, colorize, validate_ids


class ImageFileError(ValueError):
    """A file that cannot be read or written as the image it should be."""


@dataclass(frozen=True)
class LoadedMask:
    """An ID mask read from a file, and how it was obtained."""

    ids: np.ndarray
    from_colour: bool   # True: the file was a palette-coloured image converted back to ids


def _open(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError:
        raise ImageFileError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageFileError(f"{path}: not a readable image ({exc})") from None
    return image


def load_mask(path: str | os.PathLike) -> LoadedMask:
    """Read an ID mask; a colour image in the official palette is converted back to ids.

    Raises ``LabelError`` naming the file when the ids exceed 18 or a colour is off the palette.
    """
    path = Path(path)
    try:
        return LoadedMask(*read_id_mask(path))
    except FileNotFoundError:
        raise ImageFileError(f"{path}: no such file") from None
    except LabelError as exc:
        raise LabelError(f"{path}: {exc}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageFileError(f"{path}: not a readable image ({exc})") from None


def load_photo(path: str | os.PathLike) -> np.ndarray:
    """Read a photo as an (H, W, 3) uint8 RGB array."""
    path = Path(path)
    return np.ascontiguousarray(np.asarray(_open(path).convert("RGB")))


def fit_photo(photo: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Scale a photo to ``shape`` (height, width) for display under a mask of that size."""
    height, width = shape
    if photo.shape[:2] == (height, width):
        return photo
    shrinking = height * width < photo.shape[0] * photo.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(photo, (width, height), interpolation=interpolation)


def same_aspect(shape_a: tuple[int, int], shape_b: tuple[int, int], tolerance: float = 0.01) -> bool:
    """True when two (height, width) shapes have the same aspect ratio within ``tolerance``."""
    return abs(shape_a[1] / shape_a[0] - shape_b[1] / shape_b[0]) <= tolerance * shape_b[1] / shape_b[0]


def _atomic_save(image: Image.Image, path: Path, image_format: str) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ImageFileError(f"{path}: folder {folder} does not exist")
    atomic_write_stream(path, lambda handle: image.save(handle, format=image_format))


def save_mask(path: str | os.PathLike, mask: np.ndarray) -> None:
    """Write an ID mask as a single-channel PNG (ids 0..18), atomically."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ImageFileError(f"{path}: ID masks are saved as .png (a lossy format would corrupt the ids)")
    _atomic_save(Image.fromarray(validate_ids(mask)), path, "PNG")


def save_colour_preview(path: str | os.PathLike, mask: np.ndarray) -> None:
    """Write the mask in the official palette colours (PNG or JPEG by suffix), atomically."""
    path = Path(path)
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
    if path.suffix.lower() not in formats:
        raise ImageFileError(f"{path}: choose a .png or .jpg file name for the colour preview")
    _atomic_save(Image.fromarray(colorize(validate_ids(mask))), path, formats[path.suffix.lower()])
