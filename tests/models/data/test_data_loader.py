"""Dataset loaders on the shared CelebA-aligned portrait: the spec 9.2 pipeline, pairing, and a
clear error for every kind of bad input."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from models.data.datasets import SegmentationDataset
from models.data.scan import DatasetError, convert_colour_masks, scan_dataset
from models.labels import ID, colorize, semantic_target
from tests.conftest import shared_dir

PORTRAIT = shared_dir() / "data" / "portrait"


@pytest.fixture(scope="module")
def portrait() -> tuple[np.ndarray, np.ndarray]:
    """The 1024x1024 portrait and its 512x512 ID mask."""
    if not (PORTRAIT / "img.jpg").is_file():
        pytest.skip(f"shared portrait not found in {PORTRAIT}")
    with Image.open(PORTRAIT / "img.jpg") as im, Image.open(PORTRAIT / "mask.png") as mask:
        return np.asarray(im.convert("RGB")), np.asarray(mask)


def _save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def _small(portrait, side: int = 128) -> tuple[np.ndarray, np.ndarray]:
    image, mask = portrait
    return (np.asarray(Image.fromarray(image).resize((side, side), Image.BILINEAR)),
            np.asarray(Image.fromarray(mask).resize((side // 2, side // 2), Image.NEAREST)))


def _folder(root: Path, portrait, stems=("a", "b")) -> Path:
    image, mask = _small(portrait)
    for stem in stems:
        _save(root / "images" / f"{stem}.png", image)
        _save(root / "masks" / f"{stem}.png", mask)
    return root


def test_celebamask_layout_upsamples_masks_blacks_out_and_crops_the_centre(tmp_path, portrait):
    image, mask = portrait
    shutil.copy(PORTRAIT / "img.jpg", _save(tmp_path / "celebahq_mask_img" / "0.jpg", image))
    _save(tmp_path / "celebahq_mask_mask" / "0.png", mask)
    dataset = SegmentationDataset(tmp_path, 64, flip=False)
    assert dataset.report.layout == "celebamask" and dataset.framing == "celeba" and len(dataset) == 1
    framed_image, framed_mask = dataset.load_pair(0)
    centres = 102.4 + (np.arange(64) + 0.5) * 819.2 / 64          # central 80% of the 1024 frame
    rows = np.floor(centres).astype(int) // 2                     # nearest in the 512 mask
    expected = mask[rows[:, None], rows[None, :]]
    assert (framed_mask == expected).mean() > 0.99
    background = np.pad(framed_mask == 0, 1, constant_values=True)
    inner = np.logical_and.reduce([background[1 + dy:65 + dy, 1 + dx:65 + dx]
                                   for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    assert inner.sum() > 50 and framed_image[inner].max() < 4, "background pixels must be black"
    skin = framed_image[framed_mask == ID["skin"]].mean(0)
    assert skin[0] > 120 and skin[0] > skin[2]
    pixels, labels, zero = dataset[0]
    assert pixels.shape == (3, 64, 64) and labels.shape == (18, 64, 64) and zero == 0
    assert pixels.min() >= -1 and pixels.max() <= 1
    assert torch.equal(labels, torch.from_numpy(semantic_target(framed_mask)))


@pytest.mark.parametrize("swap", [True, False])
def test_flip_mirrors_and_swaps_left_and_right(tmp_path, portrait, swap):
    dataset = SegmentationDataset(_folder(tmp_path, portrait), 32, flip=True, swap_lr_on_flip=swap)
    _, mask = dataset.load_pair(0)
    unflipped = torch.from_numpy(semantic_target(mask))
    mirrored = mask[:, ::-1]
    if swap:
        mirrored = np.vectorize({4: 5, 5: 4, 6: 7, 7: 6, 8: 9, 9: 8}.get)(mirrored, mirrored).astype(np.uint8)
    flipped = torch.from_numpy(semantic_target(np.ascontiguousarray(mirrored)))
    outcomes = set()
    torch.manual_seed(0)
    for _ in range(12):
        _, labels, _ = dataset[0]
        assert torch.equal(labels, unflipped) or torch.equal(labels, flipped)
        outcomes.add(torch.equal(labels, flipped))
    assert outcomes == {True, False}
    assert not torch.equal(unflipped, flipped)


def test_folder_layout_pairs_by_stem_and_reports_missing_partners(tmp_path, portrait):
    root = _folder(tmp_path, portrait, stems=("a", "b", "c"))
    (root / "masks" / "c.png").unlink()
    _save(root / "masks" / "orphan.png", _small(portrait)[1])
    (root / "images" / "notes.txt").write_text("not an image")
    report = scan_dataset(root)
    assert report.layout == "folder" and [p.stem for p in report.pairs] == ["a", "b"]
    assert [p.name for p in report.missing_masks] == ["c.png"]
    assert [p.name for p in report.missing_images] == ["orphan.png"]
    assert not report.ok and "1 images without a mask" in report.summary()
    with pytest.warns(UserWarning, match="without a mask"):
        dataset = SegmentationDataset(root, 16)
    assert len(dataset) == 2


def test_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        SegmentationDataset(tmp_path / "nowhere", 32)


def test_empty_folder(tmp_path):
    with pytest.raises(DatasetError, match="folder is empty"):
        SegmentationDataset(tmp_path, 32)


def test_unrecognised_folder(tmp_path):
    (tmp_path / "photo.jpg").write_bytes(b"x")
    with pytest.raises(DatasetError, match="celebahq_mask_img/ \\+ celebahq_mask_mask/ or images/ \\+ masks/"):
        scan_dataset(tmp_path)


def test_no_pairs(tmp_path, portrait):
    image, mask = _small(portrait)
    _save(tmp_path / "images" / "a.png", image)
    _save(tmp_path / "masks" / "b.png", mask)
    with pytest.raises(DatasetError, match="no image/mask pairs \\(1 images without a mask, 1 masks without"):
        SegmentationDataset(tmp_path, 32)


def test_unreadable_image(tmp_path, portrait):
    root = _folder(tmp_path, portrait)
    (root / "images" / "b.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(DatasetError, match=r"b\.png: cannot read image"):
        SegmentationDataset(root, 32)


def test_truncated_image_is_caught_by_a_deep_scan_and_on_loading(tmp_path, portrait):
    root = tmp_path
    shutil.copy(PORTRAIT / "img.jpg", _save(root / "images" / "a.jpg", portrait[0]))
    _save(root / "masks" / "a.png", portrait[1])
    data = (root / "images" / "a.jpg").read_bytes()
    (root / "images" / "a.jpg").write_bytes(data[: len(data) // 3])
    assert scan_dataset(root).problems == []
    problems = scan_dataset(root, deep=True).problems
    assert [p.kind for p in problems] == ["unreadable"] and "a.jpg" in str(problems[0])
    with pytest.raises(DatasetError, match=r"a\.jpg: cannot read image"):
        SegmentationDataset(root, 32).load_pair(0)


def test_mask_with_ids_above_18(tmp_path, portrait):
    root = _folder(tmp_path, portrait)
    _save(root / "masks" / "b.png", (_small(portrait)[1] * 14).astype(np.uint8))
    [problem] = scan_dataset(root, deep=True).problems
    assert problem.kind == "ids_above_18"
    with pytest.raises(DatasetError, match=r"b\.png: mask holds ids above 18"):
        SegmentationDataset(root, 32)[1]


def test_colour_mask_is_reported_and_converted(tmp_path, portrait):
    root = _folder(tmp_path, portrait)
    ids = _small(portrait)[1]
    _save(root / "masks" / "b.png", colorize(ids))
    with pytest.raises(DatasetError, match=r"b\.png: colour mask.*convert_colour_masks"):
        SegmentationDataset(root, 32)
    assert "convert_colour_masks" in scan_dataset(root).summary()
    assert [p.name for p in convert_colour_masks(root)] == ["b.png"]
    with Image.open(root / "masks" / "b.png") as converted:
        assert converted.mode == "L" and np.array_equal(np.asarray(converted), ids)
    assert len(SegmentationDataset(root, 32)) == 2
    assert convert_colour_masks(root) == []


def test_colour_mask_off_the_palette_cannot_be_converted(tmp_path, portrait):
    root = _folder(tmp_path, portrait)
    off = colorize(_small(portrait)[1])
    off[0, 0] = (1, 2, 3)
    _save(root / "masks" / "a.png", off)
    with pytest.raises(DatasetError, match=r"a\.png: colour #010203 is not in the CelebAMask-HQ palette"):
        convert_colour_masks(root)


def test_image_and_mask_sizes_that_do_not_match(tmp_path, portrait):
    root = _folder(tmp_path, portrait)
    _save(root / "masks" / "a.png", np.zeros((64, 48), np.uint8))
    with pytest.raises(DatasetError, match=r"a\.png: mask is 48x64 but its image a\.png is 128x128"):
        SegmentationDataset(root, 32)


def test_jpeg_masks_are_refused(tmp_path, portrait):
    root = _folder(tmp_path, portrait)
    (root / "masks" / "b.png").unlink()
    _save(root / "masks" / "b.jpg", _small(portrait)[1])
    with pytest.raises(DatasetError, match=r"b\.jpg: masks must be PNG"):
        SegmentationDataset(root, 32)


def test_layout_that_is_not_there(tmp_path, portrait):
    root = _folder(tmp_path, portrait)
    with pytest.raises(DatasetError, match="not a celebamask dataset"):
        SegmentationDataset(root, 32, layout="celebamask")
