"""Face detection: mediapipe's full-range detector + FaceMesh, OpenCV Haar as the fallback.

Every face comes back in the photo frame (upright, full resolution), largest first, with the
warnings a user should see: tiny, cut off by the border, strong profile, landmarks missing.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.intake import landmarks as lmk
from models.intake import mp_models
from models.intake.errors import IntakeError, NoFaceError
from models.intake.image_io import Photo
from models.intake.warping import warp

DETECT_SIDE = 1280       # longest side the detectors look at
ROI_SIDE = 384           # FaceMesh runs on a square crop around each face, resampled to this
ROI_MARGIN = 2.0         # ... that is this many times the detector's box
TINY_EYE_DIST = 30.0     # px between the eyes (photo frame) under which a face is "tiny"
PROFILE_YAW = 45.0       # degrees of yaw from which a face is a "strong profile"
# Where eyes and mouth corners sit in an OpenCV frontal-face box (fractions), for faces whose
# mesh could not be fitted; measured on the shared CelebA-HQ portrait.
_HAAR_EYES = np.array([[0.30, 0.385], [0.70, 0.385]])
_HAAR_MOUTH = np.array([[0.35, 0.80], [0.65, 0.80]])


@dataclass(frozen=True)
class Face:
    """One face in photo-frame pixels."""

    box: np.ndarray                   # (4,) x0, y0, x1, y1
    eyes: np.ndarray                  # (2, 2) eye centres: subject's right, subject's left
    mouth: np.ndarray                 # (2, 2) mouth corners: subject's right, subject's left
    landmarks: np.ndarray | None      # (478, 3) FaceMesh points (z in px, larger = farther), or None
    score: float
    method: str                       # "facemesh", "detector" (key points only) or "haar"
    warnings: tuple[str, ...] = ()

    @property
    def size(self) -> float:
        """Geometric mean of the box sides (px), the sort key."""
        w, h = self.box[2] - self.box[0], self.box[3] - self.box[1]
        return float(np.sqrt(max(w, 0.0) * max(h, 0.0)))

    @property
    def eye_distance(self) -> float:
        """Distance between the eye centres (px)."""
        return float(np.linalg.norm(self.eyes[1] - self.eyes[0]))


def detect_faces(photo: Photo, max_faces: int = 8, detectors: tuple[str, ...] = ("mediapipe", "haar")) -> list[Face]:
    """All faces found in `photo`, largest first (possibly empty).

    `detectors` are tried in order until one finds a face: "mediapipe" (full-range detector,
    then FaceMesh on the whole photo) and "haar" (OpenCV cascades). Every box found is then
    refined with FaceMesh on a crop around it.
    """
    rgb = photo.rgb
    shrink = min(1.0, DETECT_SIDE / max(rgb.shape[:2]))
    small = rgb if shrink == 1.0 else cv2.resize(rgb, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    to_photo = 1.0 / (shrink * photo.scale)           # detector px -> photo-frame px
    found: list = []
    if "mediapipe" in detectors:
        found = [(s, box * to_photo, keys * to_photo, "detector") for s, box, keys in _detect_tiled(small)]
        whole = None if found else mp_models.mesh(small)
        if whole is not None:
            found = [(1.0, _box_of(whole[:, :2]) * to_photo, None, "detector")]
    if not found and "haar" in detectors:
        found = [(0.0, box * to_photo, None, "haar") for box in _haar_boxes(small)]
    faces: list[Face] = []
    for score, box, keys, method in _dedupe(found):
        face = _refine(photo, score, box, keys, method)
        if not any(_same_face(face, other) for other in faces):
            faces.append(face)
    faces.sort(key=lambda f: f.size, reverse=True)
    return faces[:max_faces]


def pick_face(faces: list[Face], index: int = 0, name: str = "photo") -> Face:
    """Face number `index` of a size-sorted list (0 = largest), with a clear error otherwise."""
    if not faces:
        raise NoFaceError(f"{name}: no face found (tried mediapipe face detection and OpenCV Haar "
                          f"cascades); use a photo with a visible, roughly frontal face")
    if not 0 <= index < len(faces):
        raise IntakeError(f"{name}: face {index} requested but only {len(faces)} found (0 = largest)")
    return faces[index]


def _box_of(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points.min(0), points.max(0)])


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box (1 when one box holds the other)."""
    inter = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    smaller = min(np.prod(a[2:] - a[:2]), np.prod(b[2:] - b[:2]))
    return float(inter / smaller) if smaller > 0 else 0.0


def _dedupe(found: list) -> list:
    kept: list = []
    for item in sorted(found, key=lambda f: -f[0]):
        if all(_overlap(item[1], other[1]) < 0.5 for other in kept):
            kept.append(item)
    return kept


def _same_face(a: Face, b: Face) -> bool:
    gap = np.linalg.norm(a.eyes.mean(0) - b.eyes.mean(0))
    return bool(gap < 0.5 * min(a.eye_distance, b.eye_distance))


def _detect_tiled(rgb: np.ndarray) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """The detector on the whole image and, for elongated images, on half-overlapping square
    tiles along the long side too (the detector sees a square input, so small faces in a wide
    photo would otherwise shrink below what it finds)."""
    found = mp_models.detect(rgb)
    h, w = rgb.shape[:2]
    side = min(h, w)
    if max(h, w) > 1.3 * side and side >= 128:
        steps = min(int(np.ceil((max(h, w) - side) / (side / 2))) + 1, 8)
        for start in np.linspace(0, max(h, w) - side, steps).round().astype(int):
            tile = rgb[:, start:start + side] if w > h else rgb[start:start + side]
            offset = np.array([start, 0]) if w > h else np.array([0, start])
            found += [(s, box + np.tile(offset, 2), keys + offset) for s, box, keys in mp_models.detect(tile)]
    return found


def _haar_boxes(rgb: np.ndarray) -> list[np.ndarray]:
    """Frontal-face boxes (x0, y0, x1, y1) from OpenCV's Haar cascades, on a <= 640 px copy."""
    shrink = min(1.0, 640 / max(rgb.shape[:2]))
    grey = cv2.cvtColor(cv2.resize(rgb, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    grey = cv2.equalizeHist(grey)
    for name in ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml"):
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)
        boxes = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(20, 20))
        if len(boxes):
            return [np.array([x, y, x + w, y + h], float) / shrink for x, y, w, h in boxes]
    return []


def _mesh_in_box(photo: Photo, box: np.ndarray) -> np.ndarray | None:
    """FaceMesh on a square crop around `box` (photo frame); landmarks in the photo frame."""
    centre = (box[:2] + box[2:]) / 2 * photo.scale
    half = ROI_MARGIN * max(box[2] - box[0], box[3] - box[1]) / 2 * photo.scale
    zoom = ROI_SIDE / (2 * half)
    matrix = np.array([[zoom, 0, ROI_SIDE / 2 - zoom * centre[0]], [0, zoom, ROI_SIDE / 2 - zoom * centre[1]]])
    roi = warp(photo.rgb, matrix, (ROI_SIDE, ROI_SIDE), border=cv2.BORDER_CONSTANT)
    points = mp_models.mesh(roi)
    if points is None:
        return None
    points[:, :2] = (points[:, :2] - matrix[:, 2]) / zoom / photo.scale
    points[:, 2] /= zoom * photo.scale
    return points


def _refine(photo: Photo, score: float, box: np.ndarray, keys: np.ndarray | None, method: str) -> Face:
    points = _mesh_in_box(photo, box)
    notes: list[str] = []
    if points is not None:
        eyes, mouth = lmk.eye_centres(points), lmk.mouth_corners(points)
        box, method = _box_of(points[:, :2]), "facemesh"
        notes.extend(profile_warnings(points))
    elif keys is not None:
        eyes = keys[:2]
        across = (eyes[1] - eyes[0]) * 0.4
        mouth = np.stack([keys[3] - across, keys[3] + across])
        notes.append("face landmarks not found: aligned from detector key points only; the mask will be coarse")
    else:
        size = box[2:] - box[:2]
        eyes, mouth = box[:2] + _HAAR_EYES * size, box[:2] + _HAAR_MOUTH * size
        notes.append("face landmarks not found: aligned from the face box only; the mask will be coarse")
    face = Face(box, eyes, mouth, points, score, method)
    return Face(box, eyes, mouth, points, score, method, tuple(notes) + _size_warnings(photo, face))


def profile_warnings(points: np.ndarray) -> tuple[str, ...]:
    """A warning when the mesh shows a strong profile (|yaw| >= `PROFILE_YAW`)."""
    yaw = lmk.yaw_degrees(points)
    if abs(yaw) < PROFILE_YAW:
        return ()
    return (f"strong profile (yaw about {abs(yaw):.0f} degrees): alignment and the automatic mask "
            f"assume a roughly frontal face",)


def _size_warnings(photo: Photo, face: Face) -> tuple[str, ...]:
    notes = []
    if face.eye_distance < TINY_EYE_DIST:
        notes.append(f"face is tiny ({face.eye_distance:.0f} px between the eyes): the aligned crop "
                     f"will be blurry")
    outline = face.landmarks[list(lmk.FACE_OVAL), :2] if face.landmarks is not None else face.box.reshape(2, 2)
    margin = 0.02 * face.size
    width, height = photo.size
    if (outline.min(0) < -margin).any() or (outline.max(0) > np.array([width, height]) + margin).any():
        notes.append("face is cut off by the photo border")
    return tuple(notes)
