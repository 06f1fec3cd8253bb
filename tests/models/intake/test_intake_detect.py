"""Face detection on real and composed photos: none, several, tiny, cut off, profile, Haar."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from models import intake
from models.intake import landmarks
from models.intake.detect import PROFILE_YAW, profile_warnings


def _paste(canvas: np.ndarray, image: np.ndarray, side: int, x: int, y: int) -> None:
    canvas[y:y + side, x:x + side] = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)


def test_no_face_gives_a_clear_error():
    photo = intake.photo_from_array(np.full((480, 640, 3), 90, np.uint8), name="wall.png")
    assert intake.detect_faces(photo) == []
    with pytest.raises(intake.NoFaceError, match="wall.png: no face found"):
        intake.pick_face([], 0, photo.name)


def test_several_faces_come_largest_first(portrait_rgb):
    canvas = np.full((800, 1400, 3), 200, np.uint8)
    _paste(canvas, portrait_rgb, 300, 50, 300)      # small one on the left
    _paste(canvas, portrait_rgb, 600, 700, 100)     # large one on the right
    faces = intake.detect_faces(intake.photo_from_array(canvas))
    assert len(faces) == 2
    assert faces[0].size > 1.7 * faces[1].size
    assert faces[0].eyes[:, 0].mean() > 700 and faces[1].eyes[:, 0].mean() < 350
    assert intake.pick_face(faces, 1) is faces[1]
    with pytest.raises(intake.IntakeError, match="face 2 requested but only 2 found"):
        intake.pick_face(faces, 2)


def test_tiny_face_is_found_with_a_warning(portrait_rgb):
    canvas = np.full((600, 600, 3), 128, np.uint8)
    _paste(canvas, portrait_rgb, 90, 250, 200)
    face = intake.pick_face(intake.detect_faces(intake.photo_from_array(canvas)))
    assert face.eye_distance < 30
    assert any("face is tiny" in w for w in face.warnings)


def test_face_cut_by_the_border_is_reported(portrait_rgb):
    photo = intake.photo_from_array(np.ascontiguousarray(portrait_rgb[:, :600]))
    face = intake.pick_face(intake.detect_faces(photo))
    assert any("cut off by the photo border" in w for w in face.warnings)


def test_frontal_portrait_has_no_warnings(portrait_face):
    assert portrait_face.method == "facemesh" and portrait_face.warnings == ()
    assert abs(landmarks.yaw_degrees(portrait_face.landmarks)) < 15


@pytest.mark.parametrize("yaw", [-70.0, -20.0, 10.0, 60.0])
def test_profile_warning_follows_the_head_turn(portrait_face, yaw):
    """Turn the real mesh about the vertical axis through its centre (an orthographic camera)."""
    points = portrait_face.landmarks.copy()
    centre = points.mean(0)
    t = np.radians(yaw)
    turn = np.array([[np.cos(t), 0, -np.sin(t)], [0, 1, 0], [np.sin(t), 0, np.cos(t)]])
    turned = (points - centre) @ turn.T + centre
    measured = landmarks.yaw_degrees(turned)
    base = landmarks.yaw_degrees(points)
    assert measured - base == pytest.approx(yaw, abs=8)
    warned = profile_warnings(turned)
    assert bool(warned) == (abs(measured) >= PROFILE_YAW)
    if abs(yaw) > 50:
        assert warned and "strong profile" in warned[0]


def test_haar_fallback_finds_and_refines_the_face(portrait_photo, portrait_face):
    faces = intake.detect_faces(portrait_photo, detectors=("haar",))
    assert len(faces) == 1 and faces[0].method == "facemesh"
    assert np.abs(faces[0].eyes - portrait_face.eyes).max() < 0.03 * portrait_face.eye_distance


def test_subject_left_eye_is_on_the_image_right(portrait_face, reference_mask):
    """The documented convention: `eyes[1]` / `l_eye` (id 4) = subject's left = image right."""
    right_eye, left_eye = portrait_face.eyes
    assert left_eye[0] > right_eye[0]
    ys, xs = np.nonzero(reference_mask == 4)
    assert abs(xs.mean() * 2 - left_eye[0]) < 20
