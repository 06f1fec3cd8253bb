"""Alignment of a face to a model's framing, and the way back onto the photo.

Coordinates are continuous: pixel (i, j) covers [i, i+1) x [j, j+1). The photo frame is the
upright (EXIF-applied) photo at full resolution, whatever resolution it was processed at.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from models.intake.detect import Face
from models.intake.errors import IntakeError
from models.intake.framing import ANCHOR, Framing
from models.intake.image_io import Photo
from models.intake.warping import for_cv, for_pixels, invert, scaled_source, warp
from models.io.atomic import atomic_write_text

CROP_SIZE = 512


def _rot90(v: np.ndarray) -> np.ndarray:
    """Quarter turn taking +x to +y (image coordinates, y down)."""
    return np.array([-v[1], v[0]])


def similarity(eyes: np.ndarray, mouth: np.ndarray, framing: Framing, size: int) -> np.ndarray:
    """The (2, 3) photo->crop similarity of `framing` for a face (see `models.intake.framing`).

    `eyes` and `mouth` are (2, 2): subject's right then subject's left (eye centres, mouth corners).
    """
    eyes, mouth = np.asarray(eyes, float), np.asarray(mouth, float)
    e, m = eyes.mean(0), mouth.mean(0)
    eye_vec, eye_mouth = eyes[1] - eyes[0], m - e
    x = eye_vec - _rot90(eye_mouth)
    if np.linalg.norm(x) < 1e-9 or np.linalg.norm(eye_mouth) < 1e-9:
        raise IntakeError("degenerate face landmarks: eyes and mouth coincide")
    x_src = x / np.linalg.norm(x)
    t_eye, t_mouth = np.asarray(framing.eye_mid) * size, np.asarray(framing.mouth_mid) * size
    y_dst = (t_mouth - t_eye) / np.linalg.norm(t_mouth - t_eye)
    x_dst = np.array([y_dst[1], -y_dst[0]])
    side = np.linalg.norm(eye_mouth) / np.linalg.norm(np.subtract(framing.mouth_mid, framing.eye_mid))
    if framing.eye_dist is not None:
        side = max(side, np.linalg.norm(eye_vec) / framing.eye_dist)
    rotation = np.column_stack([x_dst, _rot90(x_dst)]) @ np.vstack([x_src, _rot90(x_src)])
    linear = rotation * (size / side)
    anchor_src = e + ANCHOR * eye_mouth
    anchor_dst = t_eye + ANCHOR * (t_mouth - t_eye)
    return np.column_stack([linear, anchor_dst - linear @ anchor_src])


@dataclass(frozen=True)
class AlignTransform:
    """An invertible photo->crop similarity with the sizes it relates."""

    matrix: np.ndarray                  # (2, 3) photo px -> crop px
    crop_size: int
    source_size: tuple[int, int]        # (width, height) of the photo frame
    framing: Framing | None = field(default=None, compare=False)

    def inverse(self) -> np.ndarray:
        """(2, 3) crop px -> photo px."""
        return invert(self.matrix)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Map (n, 2) photo points into the crop."""
        return np.asarray(points, float) @ self.matrix[:, :2].T + self.matrix[:, 2]

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        """Map (n, 2) crop points back into the photo."""
        inverse = self.inverse()
        return np.asarray(points, float) @ inverse[:, :2].T + inverse[:, 2]

    def to_dict(self) -> dict:
        """JSON-ready description (the file `fenerf align` writes)."""
        return {
            "matrix": self.matrix.tolist(),
            "crop_size": self.crop_size,
            "source_size": list(self.source_size),
            "framing": None if self.framing is None else self.framing.to_dict(),
            "convention": "photo->crop similarity in continuous pixel coordinates (pixel (i, j) "
                          "covers [i, i+1) x [j, j+1)); photo = upright full-resolution photo",
        }

    @classmethod
    def from_dict(cls, data: dict) -> "AlignTransform":
        """Inverse of `to_dict`; raises `IntakeError` on malformed input."""
        try:
            matrix = np.asarray(data["matrix"], dtype=float)
            if matrix.shape != (2, 3) or abs(np.linalg.det(matrix[:, :2])) < 1e-12:
                raise ValueError(f"matrix must be an invertible 2x3, got {matrix.tolist()}")
            framing = Framing.from_dict(data["framing"]) if data.get("framing") else None
            width, height = (int(v) for v in data["source_size"])
            return cls(matrix, int(data["crop_size"]), (width, height), framing)
        except (KeyError, TypeError, ValueError) as exc:
            raise IntakeError(f"malformed alignment transform: {exc}") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write the transform as JSON (atomically)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "AlignTransform":
        """Read a transform written by `save`."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IntakeError(f"{path}: cannot read alignment transform ({exc})") from None


@dataclass(frozen=True)
class Aligned:
    """An aligned crop, its transform, and what the user should know about it."""

    crop: np.ndarray
    transform: AlignTransform
    warnings: tuple[str, ...]


def face_transform(face: Face, framing: Framing, photo_size: tuple[int, int],
                   size: int = CROP_SIZE) -> AlignTransform:
    """The alignment of `face` (photo frame) to `framing` at `size` x `size`."""
    return AlignTransform(similarity(face.eyes, face.mouth, framing, size), size, tuple(photo_size), framing)


def outside_fraction(transform: AlignTransform) -> float:
    """Share of the crop that falls outside the photo."""
    n = 64
    grid = (np.stack(np.meshgrid(np.arange(n), np.arange(n)), -1).reshape(-1, 2) + 0.5) * (transform.crop_size / n)
    points = transform.to_photo(grid)
    inside = ((points >= 0) & (points < np.asarray(transform.source_size))).all(1)
    return float(1.0 - inside.mean())


def align_face(photo: Photo, face: Face, framing: Framing, size: int = CROP_SIZE) -> Aligned:
    """Crop `face` out of `photo` the way `framing` asks; pixels beyond the photo are mirrored."""
    transform = face_transform(face, framing, photo.size, size)
    crop = warp(photo.rgb, for_pixels(transform.matrix, photo), (size, size))
    notes = list(face.warnings)
    outside = outside_fraction(transform)
    if outside > 0.02:
        notes.append(f"{outside:.0%} of the crop lies outside the photo (filled by mirroring)")
    return Aligned(crop, transform, tuple(notes))


def crop_mask(mask: np.ndarray, transform: AlignTransform) -> np.ndarray:
    """Crop an ID mask given in the photo frame the same way as the photo (nearest; outside = 0)."""
    mask = np.asarray(mask)
    if (mask.shape[1], mask.shape[0]) != tuple(transform.source_size):
        raise IntakeError(f"mask is {mask.shape[1]}x{mask.shape[0]} but the photo is "
                          f"{transform.source_size[0]}x{transform.source_size[1]}")
    size = (transform.crop_size, transform.crop_size)
    return warp(mask, transform.matrix, size, nearest=True, border=cv2.BORDER_CONSTANT)


def paste_back(photo: np.ndarray, crop: np.ndarray, transform: AlignTransform, feather: float = 0.03) -> np.ndarray:
    """Paste a crop-space image back into the photo.

    The photo may be any resolution of the photo frame and the crop any square resolution of
    the crop (a 256 px render of a 512 px crop, say). Colour images are blended with a border
    feathered over `feather` of the crop side; 2-D integer images (ID masks) are pasted with
    nearest sampling and a hard edge.
    """
    photo = np.asarray(photo)
    crop = np.asarray(crop)
    height, width = photo.shape[:2]
    side = crop.shape[0]
    if crop.shape[1] != side:
        raise IntakeError(f"the crop to paste back must be square, got {crop.shape[1]}x{side}")
    matrix = scaled_source(transform.matrix, width / transform.source_size[0], height / transform.source_size[1])
    to_crop = for_cv(matrix * (side / transform.crop_size))     # with WARP_INVERSE_MAP: photo px -> crop px
    inverse_map = cv2.WARP_INVERSE_MAP
    if crop.ndim == 2 and np.issubdtype(crop.dtype, np.integer):
        pasted = cv2.warpAffine(crop, to_crop, (width, height), flags=cv2.INTER_NEAREST | inverse_map)
        inside = cv2.warpAffine(np.ones_like(crop, np.uint8), to_crop, (width, height),
                                flags=cv2.INTER_NEAREST | inverse_map, borderValue=0)
        return np.where(inside > 0, pasted, photo).astype(photo.dtype)
    ramp = np.minimum(np.arange(side) + 0.5, side - np.arange(side) - 0.5) / max(feather * side, 1e-6)
    alpha = np.clip(np.minimum.outer(ramp, ramp), 0.0, 1.0).astype(np.float32)
    pasted = cv2.warpAffine(crop.astype(np.float32), to_crop, (width, height),
                            flags=cv2.INTER_LINEAR | inverse_map, borderMode=cv2.BORDER_REPLICATE)
    weight = cv2.warpAffine(alpha, to_crop, (width, height), flags=cv2.INTER_LINEAR | inverse_map, borderValue=0)
    if pasted.ndim == 3:
        weight = weight[..., None]
    blended = pasted * weight + photo.astype(np.float32) * (1.0 - weight)
    if np.issubdtype(photo.dtype, np.integer):
        blended = np.clip(np.rint(blended), np.iinfo(photo.dtype).min, np.iinfo(photo.dtype).max)
    return blended.astype(photo.dtype)
