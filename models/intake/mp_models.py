"""The bundled mediapipe 0.10.21 models, loaded once on first use and closed at exit.

mediapipe graphs are not thread-safe, so every call goes through one lock; the models run
offline from the `.tflite` files inside the wheel. The graphs print native log lines (TFLite
delegate, absl warnings) straight to file descriptor 2; every call runs with that descriptor
pointed at /dev/null so the CLI stays readable (real failures still raise Python exceptions).
"""
from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import Any, Callable

import numpy as np

from models.intake.errors import IntakeError

_lock = threading.Lock()
_models: dict[str, Any] = {}


@contextlib.contextmanager
def _native_stderr_silenced():
    sys.stderr.flush()
    saved, sink = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(sink, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(sink)


def _create(name: str) -> Any:
    try:
        from mediapipe.python.solutions import face_detection, face_mesh, selfie_segmentation
    except ImportError as exc:
        raise IntakeError(f"face detection needs mediapipe 0.10.21 with its bundled models ({exc})") from None

    factories: dict[str, Callable[[], Any]] = {
        # full-range detector: finds small and distant faces as well as close ones
        "detector": lambda: face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5),
        "mesh": lambda: face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                           refine_landmarks=True, min_detection_confidence=0.5),
        "selfie": lambda: selfie_segmentation.SelfieSegmentation(model_selection=0),
    }
    return factories[name]()


def _run(name: str, rgb: np.ndarray) -> Any:
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    with _lock, _native_stderr_silenced():
        model = _models.get(name)
        if model is None:
            model = _models[name] = _create(name)
        return model.process(rgb)


def detect(rgb: np.ndarray) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Faces found by the full-range detector: (score, box (x0, y0, x1, y1) px, keypoints (6, 2) px).

    The six keypoints are mediapipe's: subject's right eye, left eye, nose tip, mouth centre,
    right ear tragion, left ear tragion.
    """
    h, w = rgb.shape[:2]
    result = _run("detector", rgb)
    faces = []
    for det in result.detections or ():
        box = det.location_data.relative_bounding_box
        xyxy = np.array([box.xmin, box.ymin, box.xmin + box.width, box.ymin + box.height]) * [w, h, w, h]
        keys = np.array([(k.x * w, k.y * h) for k in det.location_data.relative_keypoints])
        faces.append((float(det.score[0]), xyxy, keys))
    return faces


def mesh(rgb: np.ndarray) -> np.ndarray | None:
    """478 FaceMesh landmarks (x, y, z) in pixels of `rgb` (z scaled like x), or None."""
    h, w = rgb.shape[:2]
    result = _run("mesh", rgb)
    if not result.multi_face_landmarks:
        return None
    points = result.multi_face_landmarks[0].landmark
    return np.array([(p.x * w, p.y * h, p.z * w) for p in points], dtype=np.float64)


def person(rgb: np.ndarray) -> np.ndarray:
    """Selfie-segmentation person probability (h, w) float32 in [0, 1]."""
    return np.asarray(_run("selfie", rgb).segmentation_mask, dtype=np.float32)


def close() -> None:
    """Release every loaded graph (they are recreated on the next call)."""
    with _lock:
        for model in _models.values():
            model.close()
        _models.clear()


atexit.register(close)
