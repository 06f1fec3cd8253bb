"""Mask, photo and preview files (no Qt)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models.labels import LabelError, colorize
from painter import maskio


def test_save_and_load_round_trip_is_atomic(real_mask, tmp_path):
    target = tmp_path / "edit.png"
    target.write_bytes(b"old content")
    maskio.save_mask(target, real_mask)
    assert Image.open(target).mode == "L"
    loaded = maskio.load_mask(target)
    assert np.array_equal(loaded.ids, real_mask) and not loaded.from_colour
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edit.png"]     # no temporary left behind


def test_failed_save_keeps_the_old_file(real_mask, tmp_path, monkeypatch):
    target = tmp_path / "edit.png"
    maskio.save_mask(target, real_mask)
    before = target.read_bytes()

    def broken_save(self, fp, format=None, **params):
        fp.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        maskio.save_mask(target, np.zeros_like(real_mask))
    assert target.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def test_colour_mask_is_converted_back_to_ids(real_mask, tmp_path):
    path = tmp_path / "maskcolor.png"
    Image.fromarray(colorize(real_mask)).save(path)
    loaded = maskio.load_mask(path)
    assert loaded.from_colour and np.array_equal(loaded.ids, real_mask)
    indexed = tmp_path / "indexed.png"
    Image.fromarray(colorize(real_mask)).quantize(colors=32).save(indexed)   # palette PNG, arbitrary indices
    assert np.array_equal(maskio.load_mask(indexed).ids, real_mask)


def test_bad_masks_are_refused_with_the_file_name(real_mask, portrait, tmp_path):
    lossy = tmp_path / "maskcolor.jpg"
    Image.fromarray(colorize(real_mask)).save(lossy, quality=80)
    with pytest.raises(LabelError, match=r"maskcolor\.jpg: colour #\w+ is not in the CelebAMask-HQ palette"):
        maskio.load_mask(lossy)
    grey = tmp_path / "grey.png"
    Image.open(portrait / "img.jpg").convert("L").save(grey)
    with pytest.raises(LabelError, match=r"grey\.png: mask holds ids above 18"):
        maskio.load_mask(grey)
    with pytest.raises(maskio.ImageFileError, match="no such file"):
        maskio.load_mask(tmp_path / "missing.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(maskio.ImageFileError, match=r"text\.png: not a readable image"):
        maskio.load_mask(tmp_path / "text.png")
    with pytest.raises(maskio.ImageFileError, match=r"\.png"):
        maskio.save_mask(tmp_path / "mask.jpg", real_mask)


def test_colour_preview_and_photo_fit(real_mask, portrait, tmp_path):
    maskio.save_colour_preview(tmp_path / "preview.png", real_mask)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "preview.png")), colorize(real_mask))
    photo = maskio.load_photo(portrait / "img.jpg")
    assert photo.shape == (1024, 1024, 3)
    fitted = maskio.fit_photo(photo, (512, 512))
    assert fitted.shape == (512, 512, 3)
    # Area averaging: each output pixel is the mean of a 2x2 block.
    block = photo[200:202, 300:302].reshape(-1, 3).mean(0)
    assert np.all(np.abs(fitted[100, 150].astype(float) - block) <= 1)
    assert maskio.same_aspect((512, 512), (1024, 1024)) and not maskio.same_aspect((512, 512), (768, 1024))
