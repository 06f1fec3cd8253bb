"""The automatic mask against the portrait's hand-made one, and its frame and conventions."""
from __future__ import annotations

import cv2
import numpy as np

from models import intake, labels
from models.intake import Face


def _at_reference_size(mask: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return cv2.resize(mask, reference.shape[::-1], interpolation=cv2.INTER_NEAREST)


def iou_table(pred: np.ndarray, reference: np.ndarray) -> tuple[str, float]:
    """Per-class IoU (left/right merged) over the classes present in the reference, as text."""
    pred, reference = labels.merge_left_right(pred), labels.merge_left_right(reference)
    ious = labels.per_class_iou(pred, reference)
    rows = [f"{labels.NAMES[c]:<10} {ious[c]:.3f}" for c in np.unique(reference)]
    return "\n".join(rows), labels.mean_iou(pred, reference)


def test_automatic_mask_reaches_the_acceptance_miou(portrait_mask, reference_mask, capsys):
    assert portrait_mask.shape == (1024, 1024) and portrait_mask.dtype == np.uint8
    table, miou = iou_table(_at_reference_size(portrait_mask, reference_mask), reference_mask)
    with capsys.disabled():
        print(f"\n[intake] automatic mask vs the hand-made one (left/right merged):\n{table}\nmean IoU {miou:.3f}")
    assert miou >= 0.6


def test_left_right_labels_follow_celebamask_hq(portrait_mask, reference_mask):
    for left, right in labels.LEFT_RIGHT_PAIRS[:2]:                  # eyes and brows
        for mask in (portrait_mask, cv2.resize(reference_mask, (1024, 1024), interpolation=cv2.INTER_NEAREST)):
            assert np.nonzero(mask == left)[1].mean() > 512 > np.nonzero(mask == right)[1].mean()


def test_mask_is_in_the_photos_own_frame(portrait_rgb, portrait_mask):
    window = np.ascontiguousarray(portrait_rgb[100:800, 60:960])       # 900 x 700, not square
    photo = intake.photo_from_array(window)
    mask = intake.parse_face(photo, intake.pick_face(intake.detect_faces(photo)))
    assert mask.shape == (700, 900)
    assert (mask == portrait_mask[100:800, 60:960]).mean() > 0.9


def test_coarse_mask_without_landmarks(portrait_photo, portrait_face, reference_mask):
    """Haar / detector-only faces get parts from average proportions: coarse but usable."""
    coarse = Face(portrait_face.box, portrait_face.eyes, portrait_face.mouth, None, 0.0, "haar")
    mask = intake.parse_face(portrait_photo, coarse)
    assert set(np.unique(mask)) >= {0, 1, 2, 4, 5, 6, 7, 11, 12, 13}
    assert iou_table(_at_reference_size(mask, reference_mask), reference_mask)[1] > 0.4


def test_people_beyond_the_parse_frame_are_labelled_coarsely(portrait_rgb):
    canvas = np.full((900, 2400, 3), 200, np.uint8)
    canvas[:, 1400:2300] = cv2.resize(portrait_rgb, (900, 900), interpolation=cv2.INTER_AREA)
    canvas[500:700, 100:300] = cv2.resize(portrait_rgb, (200, 200), interpolation=cv2.INTER_AREA)
    photo = intake.photo_from_array(canvas)
    faces = intake.detect_faces(photo)
    small = intake.pick_face(faces, 1)
    mask = intake.parse_face(photo, small)
    assert mask.shape == (900, 2400)
    assert (mask[500:700, 100:300] == 1).any()                     # the chosen face is parsed
    big_face = mask[300:700, 1700:2000]                              # far outside its parse frame
    assert (big_face != 0).mean() > 0.9 and not np.isin(big_face, [1, 2, 4, 5]).any()
