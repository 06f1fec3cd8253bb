"""Alignment on the real portrait: CelebA framing, roll correction, transform files, paste-back."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from models import intake
from models.intake import AlignTransform, Framing


def _decompose(matrix: np.ndarray) -> tuple[float, float]:
    """(scale, rotation in degrees) of a similarity."""
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2])))), float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))


def test_the_celeba_aligned_portrait_aligns_to_nearly_its_centre_crop(portrait_photo, portrait_face, capsys):
    transform = intake.align_face(portrait_photo, portrait_face, Framing.celeba()).transform
    scale, angle = _decompose(transform.matrix)
    centre = transform.to_crop(np.array([[512.0, 512.0]]))[0]
    with capsys.disabled():
        print(f"\n[intake] portrait vs the 0.8 centre crop: scale x{scale / 0.625:.3f}, roll {angle:+.2f} deg, "
              f"photo centre -> ({centre[0]:.1f}, {centre[1]:.1f}) of (256, 256)")
    assert scale / 0.625 == pytest.approx(1.0, abs=0.04)       # 512 / (0.8 * 1024)
    assert abs(angle) < 1.5
    assert np.abs(centre - 256.0).max() < 0.02 * 512


def test_roll_is_corrected(portrait_rgb, portrait_photo, portrait_face):
    rotation = cv2.getRotationMatrix2D((480.0, 560.0), 25.0, 0.8)
    tilted = cv2.warpAffine(portrait_rgb, rotation, (1024, 1024), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT_101)
    photo = intake.photo_from_array(tilted)
    face = intake.pick_face(intake.detect_faces(photo))
    aligned = intake.align_face(photo, face, Framing.celeba())
    upright = intake.align_face(portrait_photo, portrait_face, Framing.celeba())
    # composing the tilt with its alignment gives back the upright alignment
    tilt = np.vstack([rotation, [0, 0, 1]])
    composed = aligned.transform.matrix @ tilt
    assert np.allclose(composed[:, :2], upright.transform.matrix[:, :2], atol=0.015)
    assert np.abs(composed[:, 2] - upright.transform.matrix[:, 2]).max() < 6.0
    centre = (slice(128, 384), slice(128, 384))
    assert np.abs(aligned.crop[centre].astype(int) - upright.crop[centre].astype(int)).mean() < 8.0


def test_transform_file_round_trip_and_inverse(tmp_path, portrait_photo, portrait_face):
    transform = intake.align_face(portrait_photo, portrait_face, Framing.celeba(), size=256).transform
    transform.save(tmp_path / "t.json")
    loaded = AlignTransform.load(tmp_path / "t.json")
    assert np.allclose(loaded.matrix, transform.matrix) and loaded.crop_size == 256
    assert loaded.source_size == (1024, 1024) and loaded.framing == Framing.celeba()
    points = np.random.default_rng(1).uniform(0, 1024, (20, 2))
    assert np.allclose(loaded.to_photo(loaded.to_crop(points)), points)
    (tmp_path / "bad.json").write_text('{"matrix": [[1, 0, 0]], "crop_size": 4, "source_size": [4, 4]}')
    with pytest.raises(intake.IntakeError, match="malformed alignment transform"):
        AlignTransform.load(tmp_path / "bad.json")


def test_paste_back_restores_the_photo_and_carries_edits(portrait_rgb, portrait_photo, portrait_face):
    aligned = intake.align_face(portrait_photo, portrait_face, Framing.celeba())
    same = intake.paste_back(portrait_rgb, aligned.crop, aligned.transform)
    assert same.shape == portrait_rgb.shape and same.dtype == np.uint8
    assert np.abs(same.astype(int) - portrait_rgb.astype(int)).mean() < 2.0
    edited = aligned.crop.copy()
    edited[200:300, 200:300] = (0, 255, 0)
    result = intake.paste_back(portrait_rgb, edited, aligned.transform)
    spot = aligned.transform.to_photo(np.array([[250.0, 250.0]]))[0].round().astype(int)
    assert tuple(result[spot[1], spot[0]]) == (0, 255, 0)
    corner = (slice(0, 20), slice(0, 20))                          # outside the crop: untouched
    assert np.array_equal(result[corner], portrait_rgb[corner])
    half = cv2.resize(portrait_rgb, (512, 512), interpolation=cv2.INTER_AREA)
    small = intake.paste_back(half, edited, aligned.transform)      # any resolution of the same photo
    assert tuple(small[spot[1] // 2, spot[0] // 2]) == (0, 255, 0)
    render = cv2.resize(edited, (128, 128), interpolation=cv2.INTER_AREA)   # e.g. a model's output
    from_render = intake.paste_back(portrait_rgb, render, aligned.transform)
    assert tuple(from_render[spot[1], spot[0]]) == (0, 255, 0)
    assert np.abs(from_render.astype(int) - result.astype(int)).mean() < 4.0


def test_masks_crop_and_paste_like_the_photo(portrait_photo, portrait_face, reference_mask):
    aligned = intake.align_face(portrait_photo, portrait_face, Framing.celeba())
    photo_mask = cv2.resize(reference_mask, (1024, 1024), interpolation=cv2.INTER_NEAREST)
    cropped = intake.crop_mask(photo_mask, aligned.transform)
    assert cropped.shape == (512, 512) and set(np.unique(cropped)) <= set(np.unique(photo_mask))
    # the subject's left eye (id 4) stays on the image's right, and near where the framing puts eyes
    ys, xs = np.nonzero(cropped == 4)
    assert xs.mean() > 256 and abs(ys.mean() / 512 - Framing.celeba().eye_mid[1]) < 0.03
    back = intake.paste_back(np.zeros_like(photo_mask), cropped, aligned.transform)
    inside = intake.paste_back(np.zeros_like(photo_mask), np.ones_like(cropped), aligned.transform) > 0
    assert (back[inside] == photo_mask[inside]).mean() > 0.98
    with pytest.raises(intake.IntakeError, match="mask is 512x512 but the photo is 1024x1024"):
        intake.crop_mask(reference_mask, aligned.transform)


def test_a_crop_reaching_past_the_border_is_reported(portrait_rgb):
    photo = intake.photo_from_array(np.ascontiguousarray(portrait_rgb[150:, 150:]))
    face = intake.pick_face(intake.detect_faces(photo))
    aligned = intake.align_face(photo, face, Framing.celeba())
    assert any("outside the photo" in w for w in aligned.warnings)
