"""`fenerf multiview`, `fenerf video`, `fenerf mesh` end to end on the fixture models."""
import math

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from models.cli import main
from models.export.common import portrait_from_file
from models.export.volume_io import load_mrc
from models.render.options import RenderOptions
from models.render.renderer import render
from tests.models.fixture_models import fixture_model


def test_multiview_renders_an_inversion_result(tmp_path, official_fixtures):
    args = ["multiview", str(official_fixtures.generator_a), "--codes", str(official_fixtures.inversion_a),
            "--out", str(tmp_path), "--size", "12", "--steps", "4"]
    assert main(args) == 0
    stem = official_fixtures.inversion_a.stem
    grid = np.asarray(Image.open(tmp_path / f"grid_{stem}_RGB.png"))
    assert grid.shape == (12, 60, 3) and np.asarray(Image.open(tmp_path / f"grid_{stem}_SEG.png")).shape == (12, 60, 3)
    gen = fixture_model(official_fixtures.generator_a).generator
    codes, _ = portrait_from_file(official_fixtures.inversion_a, gen)
    expected = render(gen, codes, math.pi / 2, math.pi / 2, RenderOptions(img_size=12, num_steps=4)).rgb_uint8()
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / f"{stem}_view2_image.png")), expected)
    ids = np.asarray(Image.open(tmp_path / f"{stem}_view2_mask_ids.png"))
    assert ids.shape == (12, 12) and ids.max() <= 18


def test_mesh_writes_meshes_regions_and_volumes(tmp_path, official_fixtures):
    args = ["mesh", str(official_fixtures.generator_b), "--seeds", "3", "--out", str(tmp_path),
            "--resolution", "24", "--formats", "ply", "--regions"]
    assert main(args) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"seed0003_rgb.ply", "seed0003_labels.ply", "seed0003_density.npy", "seed0003.mrc"} <= names
    assert any(n.startswith("seed0003_region_") for n in names)
    density = np.load(tmp_path / "seed0003_density.npy")
    assert density.shape == (24, 24, 24)
    np.testing.assert_array_equal(load_mrc(tmp_path / "seed0003.mrc"), density)


def test_video_writes_a_gif_from_a_bake(tmp_path, official_fixtures):
    args = ["video", str(official_fixtures.generator_b), "--seeds", "3", "--out", str(tmp_path), "--frames", "3",
            "--size", "12", "--steps", "4", "--bake-resolution", "16", "--formats", "gif"]
    assert main(args) == 0
    assert iio.imread(tmp_path / "video_none_front_seed0003.gif").shape[:3] == (3, 12, 36)


@pytest.mark.parametrize("extra, message", [
    (["--codes", "GEN"], "not an inversion file"),
    (["--codes", "INV", "--latent", "geo"], "needs two files"),
    (["--frames", "0"], "at least 1"),
])
def test_bad_input_is_one_clear_line(tmp_path, official_fixtures, capsys, extra, message):
    extra = [{"GEN": str(official_fixtures.generator_b), "INV": str(official_fixtures.inversion_a)}.get(a, a)
             for a in extra]
    assert main(["video", str(official_fixtures.generator_b), "--out", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fenerf video: error:") and message in err[0]
