"""Inversion targets from the shared portrait, and every kind of bad input."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import binary_erosion

from models import labels
from models.invert.targets import TargetError, crop_ids, load_ids, load_target, make_target
from tests.conftest import shared_dir

PORTRAIT = shared_dir() / "data" / "portrait"


def test_portrait_target_official_crop():
    t = load_target(PORTRAIT / "img.jpg", PORTRAIT / "mask.png", 64)
    assert t.image.shape == (3, 64, 64) and t.semantic.shape == (18, 64, 64)
    assert -1 <= float(t.image.min()) and float(t.image.max()) <= 1
    assert set(np.unique(t.semantic.numpy())) == {-1.0, 1.0}
    # the mask was 512 and the image 1024: resized with nearest, and said so
    assert any("nearest" in n for n in t.notes)
    # nearest everywhere: only ids of the original mask, background pixels black in the image
    original = np.asarray(Image.open(PORTRAIT / "mask.png"))
    assert set(np.unique(t.ids)) <= set(np.unique(original))
    # background masking: away from the area-resized boundaries the background is black
    deep_bg = binary_erosion(t.ids == 0, iterations=1)
    assert deep_bg.sum() > 20 and (t.image[:, deep_bg].amax(0) == -1.0).float().mean() > 0.75
    # the 320/256 crop: the central 80% of the 512 mask, then resized
    assert np.array_equal(t.ids, crop_ids(original, 64, "celeba"))


def test_colour_mask_is_converted(tmp_path):
    ids = np.asarray(Image.open(PORTRAIT / "mask.png"))
    Image.fromarray(labels.colorize(ids)).save(tmp_path / "colour.png")
    notes: list[str] = []
    assert np.array_equal(load_ids(tmp_path / "colour.png", notes), ids)
    assert notes and "palette" in notes[0]


def test_non_palette_colour_mask_is_refused(tmp_path):
    rgb = np.asarray(Image.open(PORTRAIT / "img.jpg").resize((64, 64)))
    Image.fromarray(rgb).save(tmp_path / "photo_as_mask.png")
    with pytest.raises(TargetError, match="photo_as_mask.png: a colour image that is not a palette mask"):
        load_ids(tmp_path / "photo_as_mask.png")


def test_ids_above_18_are_refused(tmp_path):
    grey = np.full((32, 32), 40, np.uint8)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    with pytest.raises(TargetError, match=r"grey.png: .*ids above 18"):
        load_ids(tmp_path / "grey.png")


def test_empty_mask_is_refused():
    rgb = np.full((64, 64, 3), 128, np.uint8)
    with pytest.raises(TargetError, match="empty"):
        make_target(rgb, np.zeros((64, 64), np.uint8), 32, crop="none")


def test_other_aspect_ratio_is_refused():
    rgb = np.full((64, 96, 3), 128, np.uint8)
    ids = np.ones((64, 64), np.uint8)
    with pytest.raises(TargetError, match="different aspect ratios"):
        make_target(rgb, ids, 32, crop="none")


def test_mask_of_another_picture_is_refused():
    # a rendered-style image: face in the left half on black; the mask's face in the right half
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[:, :28] = 180
    ids = np.zeros((64, 64), np.uint8)
    ids[:, 36:] = 1
    with pytest.raises(TargetError, match="do not match"):
        make_target(rgb, ids, 32, crop="none")


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(TargetError, match="no such mask file"):
        load_ids(tmp_path / "nope.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(TargetError, match="broken.png: cannot read mask"):
        load_ids(tmp_path / "broken.png")


def test_aligned_target_puts_the_mask_features_where_the_framing_asks():
    """--crop align: photo and mask are cropped by the same face alignment to a model's framing."""
    from models.intake import Framing
    from models.invert.aligned import aligned_ids, aligned_target
    framing = Framing.celeba_hq()
    size = 128
    target, transform = aligned_target(PORTRAIT / "img.jpg", PORTRAIT / "mask.png", size, framing.to_dict())
    ids = target.ids

    def centre(*names):
        ys, xs = np.nonzero(np.isin(ids, [labels.ID[n] for n in names]))
        return np.array([xs.mean(), ys.mean()]) / size

    # the eyes' and the mouth's label centres land on the framing's eye and mouth midpoints
    assert np.abs(centre("l_eye", "r_eye") - framing.eye_mid).max() < 0.04
    assert np.abs(centre("mouth", "u_lip", "l_lip") - framing.mouth_mid).max() < 0.04
    # the edited mask drawn on the same photo goes through the same crop
    edited = aligned_ids(PORTRAIT / "mask_edit.png", transform, size)
    assert 0 < (edited != ids).mean() < 0.05


def test_aligned_target_without_a_face_says_how_to_go_on(tmp_path):
    from models.invert.aligned import aligned_target
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((256, 256, 3), 120, np.uint8)).save(blank)
    with pytest.raises(TargetError, match="--crop celeba"):
        aligned_target(blank, PORTRAIT / "mask.png", 64, None)
