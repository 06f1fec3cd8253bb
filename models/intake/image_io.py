"""Robust photo and mask reading.

A `Photo` is always upright (EXIF orientation applied), 8-bit RGB, and at most `MAX_SIDE`
pixels on its longer side; `Photo.size` keeps the upright full-resolution size, which is the
pixel frame of every coordinate, transform and mask that intake hands out.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from models import labels
from models.intake.errors import PhotoError
from models.io.masks import read_id_mask

MAX_SIDE = 4096             # longer side kept in memory; larger photos are downscaled on reading
MAX_PIXELS = 150_000_000    # larger files are refused outright (decompression bombs)
_SUPPORTED = "JPEG, PNG, BMP, TIFF, WebP"
_ROTATING_ORIENTATIONS = (5, 6, 7, 8)   # EXIF orientations that swap width and height


@dataclass(frozen=True)
class Photo:
    """An upright 8-bit RGB photo, possibly downscaled from its full size."""

    rgb: np.ndarray               # (h, w, 3) uint8 working pixels
    size: tuple[int, int]         # (width, height) of the upright photo at full resolution
    name: str = "photo"           # shown in messages
    notes: tuple[str, ...] = ()   # what reading did: EXIF rotation, conversion, downscaling

    @property
    def scale(self) -> float:
        """Working pixels per full-resolution pixel (1.0 unless the photo was downscaled)."""
        return self.rgb.shape[1] / self.size[0]


def photo_from_array(rgb: np.ndarray, name: str = "photo") -> Photo:
    """Wrap an in-memory image (grey, RGB or RGBA; 8 or 16 bit) as a `Photo`."""
    image = Image.fromarray(np.ascontiguousarray(rgb))
    return _finish(image, name, (), MAX_SIDE, image.size)


def load_photo(path: str | os.PathLike, max_side: int = MAX_SIDE) -> Photo:
    """Read any common photo file; raise `PhotoError` with the file name and the reason."""
    path = Path(path)
    if not path.exists():
        raise PhotoError(f"{path}: no such file")
    if not path.is_file():
        raise PhotoError(f"{path}: not a file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except UnidentifiedImageError:
        raise PhotoError(f"{path}: not a readable image (unsupported format or corrupt file; "
                         f"supported: {_SUPPORTED})") from None
    except Image.DecompressionBombError:
        raise PhotoError(f"{path}: image is too large to open safely") from None
    with image:
        return _decode(image, path, max_side)


def _decode(image: Image.Image, path: Path, max_side: int) -> Photo:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise PhotoError(f"{path}: image is too large ({width}x{height} pixels; "
                         f"the limit is {MAX_PIXELS // 1_000_000} megapixels)")
    if width == 0 or height == 0:
        raise PhotoError(f"{path}: image is empty ({width}x{height})")
    if max(width, height) > max_side and image.format == "JPEG":
        reduced = max_side / max(width, height)
        image.draft("RGB", (int(width * reduced) + 1, int(height * reduced) + 1))
    try:
        orientation = image.getexif().get(0x0112, 1)
        image.load()
        upright = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoError(f"{path}: truncated or corrupt image data ({exc})") from None
    notes: list[str] = []
    if orientation in range(2, 9):
        notes.append(f"rotated upright (EXIF orientation {orientation})")
    if orientation in _ROTATING_ORIENTATIONS:
        width, height = height, width
    return _finish(upright, path.name, tuple(notes), max_side, (width, height))


def _finish(image: Image.Image, name: str, notes: tuple[str, ...], max_side: int,
            full: tuple[int, int]) -> Photo:
    """Convert to 8-bit RGB and downscale to `max_side`; `full` is the upright full-resolution size."""
    rgb, note = _to_rgb8(image)
    extra = (note,) if note else ()
    longest = max(rgb.shape[:2])
    if longest > max_side:
        factor = max_side / longest
        target = (max(1, round(rgb.shape[1] * factor)), max(1, round(rgb.shape[0] * factor)))
        rgb = cv2.resize(rgb, target, interpolation=cv2.INTER_AREA)
    if max(full) > max_side:
        extra += (f"downscaled from {full[0]}x{full[1]} to {rgb.shape[1]}x{rgb.shape[0]}",)
    return Photo(np.ascontiguousarray(rgb), full, name, notes + extra)


def _to_rgb8(image: Image.Image) -> tuple[np.ndarray, str]:
    """Any PIL mode -> (h, w, 3) uint8; transparent pixels are composited on white."""
    mode = image.mode
    if mode == "RGB":
        return np.asarray(image), ""
    if mode.startswith("I") or mode == "F":
        values = np.asarray(image, dtype=np.float32)
        top = float(values.max()) if values.size else 0.0
        if mode.startswith("I;16") or 255 < top <= 65535:
            values = values / 257.0
        elif mode == "F" and top <= 1.0:
            values = values * 255.0
        elif top > 65535:
            values = values * (255.0 / top)
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2), f"converted {mode} to 8-bit RGB"
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:] / 255.0
        rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return np.rint(rgb).astype(np.uint8), "composited transparency on white"
    return np.asarray(image.convert("RGB")), f"converted {mode} to RGB"


def load_mask(path: str | os.PathLike) -> np.ndarray:
    """Read an ID mask (ids 0..18) or a mask coloured with the official palette; an indexed PNG
    whose palette is not the official one is read by its indices. Raises `PhotoError`."""
    path = Path(path)
    if not path.is_file():
        raise PhotoError(f"{path}: no such mask file")
    try:
        return read_id_mask(path)[0]
    except labels.LabelError as exc:
        raise PhotoError(f"{path}: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise PhotoError(f"{path}: cannot read mask ({exc})") from None
