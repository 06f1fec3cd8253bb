"""`fenerf make-dataset`: files, determinism, resuming after an interruption, and the loader round trip."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.cli import main
from models.data.datasets import SegmentationDataset
from models.data.head_params import APP_DIMS, GEO_DIMS
from models.data.scan import DatasetError
from models.data.writer import render_pairs, sample_latents, write_dataset

ROOT = Path(__file__).resolve().parents[3]


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_cli_writes_a_dataset_the_loader_reads_back(tmp_path):
    out = tmp_path / "heads"
    done = subprocess.run([sys.executable, "-m", "models.cli", "make-dataset", str(out), "--count", "5", "--size",
                           "32", "--seed", "11", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (out / "celebahq_mask_img").iterdir()) == [f"{k}.jpg" for k in range(5)]
    assert sorted(p.name for p in (out / "celebahq_mask_mask").iterdir()) == [f"{k}.png" for k in range(5)]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["framing"] == "model" and meta["complete"] and (meta["seed"], meta["count"], meta["size"]) == (11, 5, 32)
    latents = np.load(out / "latents.npz")
    assert latents["z_geo"].shape == (5, GEO_DIMS) and latents["z_app"].shape == (5, APP_DIMS)
    assert latents["yaw"].shape == (5,) and latents["pitch"].shape == (5,)
    images, masks = render_pairs(latents["z_geo"], latents["z_app"], latents["yaw"], latents["pitch"], 32)
    dataset = SegmentationDataset(out, 32, flip=False)
    assert dataset.framing == "model" and len(dataset) == 5
    for k in range(5):
        with Image.open(out / "celebahq_mask_mask" / f"{k}.png") as mask:
            assert mask.mode == "L" and np.array_equal(np.asarray(mask), masks[k])
        image, mask = dataset.load_pair(k)
        assert np.array_equal(mask, masks[k]), "model framing must keep the rendered frame"
        assert np.abs(image.astype(int) - images[k].astype(int)).mean() < 3      # JPEG quality 95, 4:4:4


def test_same_seed_gives_byte_identical_files_and_an_interrupted_run_completes(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    write_dataset(first, 4, 24, seed=3, progress=False)
    write_dataset(second, 4, 24, seed=3, progress=False)
    reference = _files(first)
    assert reference == _files(second)
    (first / "celebahq_mask_img" / "2.jpg").unlink()
    (first / "celebahq_mask_mask" / "0.png").unlink()
    (first / "celebahq_mask_mask" / ".3.png.tmpfile.tmp").write_bytes(b"left by a killed run")
    meta = json.loads((first / "meta.json").read_text())
    (first / "meta.json").write_text(json.dumps({**meta, "complete": False}))
    assert main(["make-dataset", str(first), "--count", "4", "--size", "24", "--seed", "3", "--quiet"]) == 0
    completed = _files(first)
    completed.pop("celebahq_mask_mask/.3.png.tmpfile.tmp")
    assert completed == reference
    other = _files(write_dataset(tmp_path / "other", 4, 24, seed=4, progress=False))
    assert other["celebahq_mask_mask/0.png"] != reference["celebahq_mask_mask/0.png"]


def test_samples_do_not_depend_on_the_count():
    few, many = sample_latents(9, 3), sample_latents(9, 7)
    for name in few:
        assert np.array_equal(few[name], many[name][:3])


def test_a_folder_holding_another_dataset_is_refused(tmp_path):
    write_dataset(tmp_path, 2, 16, seed=1, progress=False)
    with pytest.raises(DatasetError, match="already holds a different dataset"):
        write_dataset(tmp_path, 2, 16, seed=2, progress=False)


@pytest.mark.parametrize("args,message", [(["--count", "0"], "--count must be at least 1"),
                                          (["--size", "4"], "--size must be between 8 and 1024"),
                                          (["--workers", "0"], "--workers must be at least 1")])
def test_cli_rejects_bad_arguments(tmp_path, capsys, args, message):
    assert main(["make-dataset", str(tmp_path / "x"), *args]) == 2
    assert message in capsys.readouterr().err
