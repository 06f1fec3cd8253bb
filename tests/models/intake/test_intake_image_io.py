"""Photo reading: corrupt and unsupported files, EXIF rotation, odd pixel formats, huge images."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from models import intake, labels
from models.intake.image_io import MAX_SIDE


def _save_jpeg(path, rgb, **extra):
    Image.fromarray(rgb).save(path, quality=92, **extra)
    return path


def test_truncated_jpeg_names_the_file_and_the_reason(tmp_path, portrait_path):
    broken = tmp_path / "cut.jpg"
    data = portrait_path.read_bytes()
    broken.write_bytes(data[: len(data) // 3])
    with pytest.raises(intake.PhotoError, match=r"cut\.jpg: truncated or corrupt"):
        intake.load_photo(broken)


def test_random_bytes_with_a_jpg_suffix_are_rejected(tmp_path):
    fake = tmp_path / "noise.jpg"
    fake.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(intake.PhotoError, match=r"noise\.jpg: not a readable image"):
        intake.load_photo(fake)


def test_text_file_is_an_unsupported_format(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a photo\n")
    with pytest.raises(intake.PhotoError, match=r"notes\.txt: .*supported: JPEG, PNG"):
        intake.load_photo(text)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(intake.PhotoError, match="no such file"):
        intake.load_photo(tmp_path / "absent.jpg")
    with pytest.raises(intake.PhotoError, match="not a file"):
        intake.load_photo(tmp_path)


def test_exif_rotation_gives_the_upright_photo_and_the_same_face(tmp_path, portrait_rgb):
    upright = np.ascontiguousarray(portrait_rgb[:, 100:868])         # 768 wide, 1024 tall
    plain = intake.load_photo(_save_jpeg(tmp_path / "upright.jpg", upright))
    exif = Image.Exif()
    exif[0x0112] = 6                                                   # display = rotate 90 deg clockwise
    stored = np.ascontiguousarray(np.rot90(upright))                   # what a camera held sideways stores
    rotated = intake.load_photo(_save_jpeg(tmp_path / "sideways.jpg", stored, exif=exif.tobytes()))
    assert rotated.size == plain.size == (768, 1024)
    assert rotated.rgb.shape == plain.rgb.shape
    assert np.abs(rotated.rgb.astype(int) - plain.rgb.astype(int)).mean() < 2.0
    assert any("EXIF orientation 6" in note for note in rotated.notes)
    face_a = intake.detect_faces(plain)[0]
    face_b = intake.detect_faces(rotated)[0]
    assert np.abs(face_a.eyes - face_b.eyes).max() < 0.02 * face_a.eye_distance   # JPEG noise only
    mask_a, mask_b = intake.parse_face(plain, face_a), intake.parse_face(rotated, face_b)
    assert mask_b.shape == (1024, 768)
    assert (mask_a == mask_b).mean() > 0.97


@pytest.mark.parametrize("kind", ["grey", "rgba", "grey16", "rgb16"])
def test_odd_pixel_formats_become_8bit_rgb_and_still_work(tmp_path, portrait_rgb, kind):
    small = cv2.resize(portrait_rgb, (512, 512), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    path = tmp_path / f"{kind}.png"
    if kind == "grey":
        Image.fromarray(grey).save(path)
        expected = np.repeat(grey[..., None], 3, axis=2)
    elif kind == "rgba":
        alpha = np.full(grey.shape, 255, np.uint8)
        alpha[:, :40] = 0                                              # transparent strip -> white
        Image.fromarray(np.dstack([small, alpha])).save(path)
        expected = small.copy()
        expected[:, :40] = 255
    elif kind == "grey16":
        cv2.imwrite(str(path), grey.astype(np.uint16) * 257)
        expected = np.repeat(grey[..., None], 3, axis=2)
    else:
        cv2.imwrite(str(path), small[..., ::-1].astype(np.uint16) * 257)
        expected = small
    photo = intake.load_photo(path)
    assert photo.rgb.dtype == np.uint8 and photo.rgb.shape == (512, 512, 3)
    assert np.abs(photo.rgb.astype(int) - expected.astype(int)).max() <= 1
    face = intake.pick_face(intake.detect_faces(photo), 0, photo.name)
    assert face.method == "facemesh"


def test_huge_photo_is_downscaled_but_results_stay_in_its_frame(tmp_path, portrait_rgb, portrait_photo,
                                                                portrait_face):
    huge = cv2.resize(portrait_rgb, (6000, 6000), interpolation=cv2.INTER_LINEAR)
    photo = intake.load_photo(_save_jpeg(tmp_path / "huge.jpg", huge))
    assert photo.size == (6000, 6000) and max(photo.rgb.shape) == MAX_SIDE
    assert any("downscaled from 6000x6000" in note for note in photo.notes)
    face = intake.pick_face(intake.detect_faces(photo))
    assert np.abs(face.eyes / (6000 / 1024) - portrait_face.eyes).max() < 3.0
    aligned = intake.align_face(photo, face, intake.Framing.celeba())
    assert aligned.transform.source_size == (6000, 6000)
    reference = intake.align_face(portrait_photo, portrait_face, intake.Framing.celeba())
    # the same crop: the 6000 px photo's transform is the 1024 px one behind a 6000/1024 zoom
    linear = aligned.transform.matrix[:, :2] * (6000 / 1024)
    assert np.allclose(linear, reference.transform.matrix[:, :2], atol=0.01 * 0.64)
    assert np.abs(aligned.transform.matrix[:, 2] - reference.transform.matrix[:, 2]).max() < 3.0
    assert aligned.crop.shape == reference.crop.shape


def test_masks_read_as_ids_or_palette_colours(tmp_path, reference_mask):
    ids_path, colour_path, bad_path = tmp_path / "ids.png", tmp_path / "colour.png", tmp_path / "grey.png"
    Image.fromarray(reference_mask).save(ids_path)
    Image.fromarray(labels.colorize(reference_mask)).save(colour_path)
    Image.fromarray(cv2.cvtColor(labels.colorize(reference_mask), cv2.COLOR_RGB2GRAY)).save(bad_path)
    indexed_path = tmp_path / "indexed.png"
    indexed = Image.fromarray(reference_mask, mode="P")
    indexed.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])   # not the official one
    indexed.save(indexed_path)
    assert np.array_equal(intake.load_mask(ids_path), reference_mask)
    assert np.array_equal(intake.load_mask(colour_path), reference_mask)
    assert np.array_equal(intake.load_mask(indexed_path), reference_mask)
    with pytest.raises(intake.PhotoError, match=r"grey\.png: .*ids above 18"):
        intake.load_mask(bad_path)
