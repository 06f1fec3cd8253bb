"""Face parts drawn from landmarks: face oval, brows, eyes, nose, lips and inner mouth.

Everything happens in the upright parse frame (see `models.intake.parse`). With a FaceMesh the
parts are its polygons; with only eye and mouth positions (Haar or detector fallback) they are
ellipses placed by average face proportions.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models import labels
from models.intake import landmarks as lmk

_SUBPIXEL = 4   # fillPoly fractional bits

# (ring, id) in drawing order: later parts overwrite earlier ones, as CelebAMask-HQ does (spec 8.4)
_POLYGONS = (
    (lmk.NOSE, labels.ID["nose"]),
    (lmk.LEFT_BROW, labels.ID["l_brow"]), (lmk.RIGHT_BROW, labels.ID["r_brow"]),
    (lmk.LEFT_EYE, labels.ID["l_eye"]), (lmk.RIGHT_EYE, labels.ID["r_eye"]),
    (lmk.UPPER_LIP, labels.ID["u_lip"]), (lmk.LOWER_LIP, labels.ID["l_lip"]),
    (lmk.INNER_MOUTH, labels.ID["mouth"]),
)


@dataclass(frozen=True)
class FaceGeometry:
    """Key lines of an upright face in parse-frame pixels."""

    centre_x: float       # facial midline
    eye_y: float
    brow_y: float
    mouth_y: float
    chin_y: float
    top_y: float          # top of the face oval (around the upper forehead)
    half_width: float     # half the cheek-to-cheek width
    cheeks: np.ndarray    # (2, 2): subject's right cheek point, subject's left


def _fill(canvas: np.ndarray, points: np.ndarray, value: int) -> None:
    scaled = np.round(np.asarray(points, float) * (1 << _SUBPIXEL)).astype(np.int32)
    cv2.fillPoly(canvas, [scaled], value, lineType=cv2.LINE_8, shift=_SUBPIXEL)


def _ellipse(canvas: np.ndarray, centre, axes, value: int) -> None:
    cv2.ellipse(canvas, (round(centre[0]), round(centre[1])), (max(1, round(axes[0])), max(1, round(axes[1]))),
                0, 0, 360, value, -1)


def mesh_parts(points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, FaceGeometry]:
    """(face oval mask bool, part ids uint8 (0 = none), geometry) from frame-space mesh points."""
    oval = np.zeros((size, size), np.uint8)
    _fill(oval, points[list(lmk.FACE_OVAL), :2], 1)
    parts = np.zeros((size, size), np.uint8)
    for ring, label in _POLYGONS:
        _fill(parts, points[list(ring), :2], label)
    eyes = lmk.eye_centres(points)
    brows = np.concatenate([points[list(lmk.LEFT_BROW), 1], points[list(lmk.RIGHT_BROW), 1]])
    cheeks = points[list(lmk.CHEEKS), :2]
    geometry = FaceGeometry(
        centre_x=float((points[lmk.TOP, 0] + points[lmk.CHIN, 0] + eyes[:, 0].sum()) / 4),
        eye_y=float(eyes[:, 1].mean()), brow_y=float(brows.mean()),
        mouth_y=float(lmk.mouth_corners(points)[:, 1].mean()),
        chin_y=float(points[lmk.CHIN, 1]), top_y=float(points[lmk.TOP, 1]),
        half_width=float(abs(cheeks[1, 0] - cheeks[0, 0]) / 2), cheeks=cheeks)
    return oval.astype(bool), parts, geometry


def coarse_parts(eyes: np.ndarray, mouth: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, FaceGeometry]:
    """The same outputs from eye centres and mouth corners only (average proportions)."""
    e, m = eyes.mean(0), mouth.mean(0)
    d = float(np.linalg.norm(m - e))           # eye-to-mouth distance, the unit below
    eye_gap = float(np.linalg.norm(eyes[1] - eyes[0]))
    half_width = 0.95 * eye_gap
    top_y, chin_y = e[1] - 0.9 * d, m[1] + 0.75 * d
    oval = np.zeros((size, size), np.uint8)
    _ellipse(oval, (e[0], (top_y + chin_y) / 2), (half_width, (chin_y - top_y) / 2), 1)
    parts = np.zeros((size, size), np.uint8)
    _ellipse(parts, (e[0], e[1] + 0.45 * d), (0.17 * d, 0.35 * d), labels.ID["nose"])
    for (x, y), eye_id, brow_id in ((eyes[1], "l_eye", "l_brow"), (eyes[0], "r_eye", "r_brow")):
        _ellipse(parts, (x, y - 0.28 * d), (0.25 * eye_gap, 0.05 * d), labels.ID[brow_id])
        _ellipse(parts, (x, y), (0.2 * eye_gap, 0.06 * d), labels.ID[eye_id])
    lip_half = float(np.linalg.norm(mouth[1] - mouth[0])) / 2
    _ellipse(parts, (m[0], m[1] + 0.02 * d), (lip_half, 0.12 * d), labels.ID["l_lip"])
    _ellipse(parts, (m[0], m[1] - 0.02 * d), (lip_half, 0.08 * d), labels.ID["u_lip"])
    cheeks = np.array([[e[0] - half_width, e[1] + 0.3 * d], [e[0] + half_width, e[1] + 0.3 * d]])
    geometry = FaceGeometry(float(e[0]), float(e[1]), float(e[1] - 0.28 * d), float(m[1]), float(chin_y),
                            float(top_y), half_width, cheeks)
    return oval.astype(bool), parts, geometry
