"""FaceMesh landmark topology used by alignment and parsing.

Index lists are ordered rings (polygons) over mediapipe's 468-point face mesh (plus the 10 iris
points of the refined model). mediapipe names sides from the subject's point of view: its
"left eye" (263, 362, ...) is the subject's left eye, which appears on the image's right in a
non-mirrored photo. CelebAMask-HQ does the same (`l_eye` = id 4 = subject's left; verified on
the shared portrait, where id 4 lies on the image's right), so `LEFT_*` rings give the `l_*` ids.
"""
from __future__ import annotations

import numpy as np

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_BROW = (276, 283, 282, 295, 285, 336, 296, 334, 293, 300)
RIGHT_BROW = (46, 53, 52, 65, 55, 107, 66, 105, 63, 70)
LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
# Nose outline as CelebAMask-HQ draws it: bridge from between the eyes, wings, base.
NOSE = (168, 417, 412, 399, 456, 420, 429, 279, 358, 294, 460, 305, 290, 250, 462, 370, 94,
        141, 242, 20, 60, 75, 240, 64, 129, 49, 209, 198, 236, 174, 188, 193)
IRIS_CENTRES = (468, 473)          # subject's right, subject's left (refined mesh only)
MOUTH_CORNERS = (61, 291)          # subject's right corner, subject's left corner
CHEEKS = (234, 454)                # widest face-oval points: subject's right, subject's left
TOP, CHIN, NOSE_TIP = 10, 152, 1

UPPER_LIP = LIPS_OUTER_UPPER + LIPS_INNER_UPPER[::-1]
LOWER_LIP = LIPS_OUTER_LOWER + LIPS_INNER_LOWER[::-1]
INNER_MOUTH = LIPS_INNER_UPPER + LIPS_INNER_LOWER[::-1]


def eye_centres(points: np.ndarray) -> np.ndarray:
    """(2, 2) eye centres (subject's right, subject's left).

    The iris centres when the mesh has them (CelebA-HQ was cropped from CelebA's pupil
    annotations), else the mean of each eye's lid contour (like dlib's 68-point eye centres).
    """
    if len(points) > max(IRIS_CENTRES):
        return points[list(IRIS_CENTRES), :2].copy()
    return np.stack([points[list(RIGHT_EYE), :2].mean(0), points[list(LEFT_EYE), :2].mean(0)])


def mouth_corners(points: np.ndarray) -> np.ndarray:
    """(2, 2) outer mouth corners (subject's right, subject's left)."""
    return points[list(MOUTH_CORNERS), :2].copy()


def yaw_degrees(points: np.ndarray) -> float:
    """Head yaw from the 3D mesh: angle of the cheek-to-cheek line out of the image plane.

    0 for a frontal face, about +-90 for a full profile; positive when the subject's left cheek
    is farther from the camera than the right one. Roll does not affect it.
    """
    right, left = points[CHEEKS[0]], points[CHEEKS[1]]
    d = left - right
    return float(np.degrees(np.arctan2(d[2], np.hypot(d[0], d[1]))))
