"""`fenerf align` and `fenerf parse` end to end, including their one-line errors."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from models import intake, labels
from models.cli import main


def _read(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def test_align_writes_crop_transform_and_cropped_mask(tmp_path, portrait_path, reference_mask, capsys):
    mask_path = tmp_path / "mask_in_photo_frame.png"
    photo_mask = cv2.resize(reference_mask, (1024, 1024), interpolation=cv2.INTER_NEAREST)
    Image.fromarray(photo_mask).save(mask_path)
    out = tmp_path / "aligned"
    assert main(["align", str(portrait_path), "--out", str(out), "--mask", str(mask_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    crop, mask = _read(out / "crop.png"), _read(out / "mask.png")
    assert crop.shape == (512, 512, 3) and mask.shape == (512, 512)
    transform = intake.AlignTransform.load(out / "transform.json")
    assert transform.framing == intake.Framing.celeba() and transform.source_size == (1024, 1024)
    assert np.array_equal(mask, intake.crop_mask(photo_mask, transform))
    assert np.array_equal(_read(out / "mask_color.png"), labels.colorize(mask))


def test_align_reads_the_framing_from_the_model_or_by_name(tmp_path, portrait_path):
    official = tmp_path / "run_generator.pth"
    official.write_bytes(b"official checkpoints are CelebA-framed")
    assert main(["align", str(portrait_path), "--out", str(tmp_path / "a"), "--model", str(official)]) == 0
    assert json.loads((tmp_path / "a" / "transform.json").read_text())["framing"]["name"] == "celeba"
    assert main(["align", str(portrait_path), "--out", str(tmp_path / "b"), "--framing", "celeba-hq",
                 "--size", "256", "--auto-mask"]) == 0
    saved = json.loads((tmp_path / "b" / "transform.json").read_text())
    assert saved["framing"]["name"] == "celeba-hq" and saved["crop_size"] == 256
    auto = _read(tmp_path / "b" / "mask.png")
    assert auto.shape == (256, 256) and {1, 2, 13}.issubset(np.unique(auto))


def test_parse_writes_an_id_mask_in_the_photo_frame_and_a_preview(tmp_path, portrait_path, capsys):
    out = tmp_path / "masks" / "auto.png"
    assert main(["parse", str(portrait_path), "--out", str(out)]) == 0
    mask = _read(out)
    assert mask.shape == (1024, 1024) and mask.dtype == np.uint8 and mask.max() <= 18
    assert np.array_equal(_read(out.with_name("auto_color.png")), labels.colorize(mask))
    assert "skin" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["align", "parse"])
def test_bad_inputs_fail_with_one_line(tmp_path, portrait_path, command, capsys):
    target = ["--out", str(tmp_path / ("o.png" if command == "parse" else "o"))]
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((300, 300, 3), 50, np.uint8)).save(blank)
    cases = [
        ([str(tmp_path / "missing.jpg")], "missing.jpg: no such file"),
        ([str(blank)], "blank.png: no face found"),
        ([str(portrait_path), "--face", "3"], "face 3 requested but only 1 found"),
    ]
    for extra, message in cases:
        assert main([command, *extra, *target]) == 2
        err = capsys.readouterr().err
        assert f"fenerf {command}: error:" in err and message in err and err.count("\n") == 1


def test_parse_refuses_a_lossy_mask_name(tmp_path, portrait_path, capsys):
    assert main(["parse", str(portrait_path), "--out", str(tmp_path / "mask.jpg")]) == 2
    assert "use a .png name" in capsys.readouterr().err
