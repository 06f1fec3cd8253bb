"""The safe loader on the official-format fixtures (written by the official code, see fixtures README)."""
from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.field.config import GRID_CLASS, NOGRID_CLASS, GeneratorConfig, expected_state_shapes
from models.io.errors import CheckpointError
from models.io.official import (INVERSION_KEYS, find_ema_file, load_official_checkpoint,
                                read_inversion_file, read_official_ema, read_official_generator,
                                sniff_checkpoint_kind, write_inversion_file)

MODELS = {"A": (GRID_CLASS, 53), "B": (NOGRID_CLASS, 50)}


def _paths(fx, model: str):
    return (fx.generator_a, fx.ema_a) if model == "A" else (fx.generator_b, fx.ema_b)


def _mapping(weights, name: str, z: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The official mapping network (spec 3.1) written as plain matmuls over a state dict."""
    prefix = f"siren.{name}_mapping_network.network."
    h = torch.from_numpy(z).reshape(1, -1)
    for i in (0, 2, 4, 6):
        h = F.leaky_relu(h @ weights[f"{prefix}{i}.weight"].T + weights[f"{prefix}{i}.bias"], 0.2)
    out = (h @ weights[f"{prefix}8.weight"].T + weights[f"{prefix}8.bias"])[0]
    half = out.shape[0] // 2
    return out[:half], out[half:]


@pytest.mark.parametrize("model", ["A", "B"])
def test_generator_class_keys_shapes_and_attributes(official_fixtures, model):
    gen_path, _ = _paths(official_fixtures, model)
    gen = read_official_generator(gen_path)
    class_name, count = MODELS[model]
    assert gen.class_name == class_name
    assert len(gen.state_dict) == count
    grid = model == "A"
    assert gen.config == GeneratorConfig.official(grid=grid, grid_resolution=16 if grid else 96)
    expected = expected_state_shapes(gen.config)
    assert list(gen.state_dict) == list(expected)
    assert {k: tuple(v.shape) for k, v in gen.state_dict.items()} == expected
    if grid:
        assert tuple(gen.state_dict["siren.spatial_embeddings"].shape) == (1, 32, 16, 16, 16)
    assert all(v.dtype == torch.float32 and v.device.type == "cpu" for v in gen.state_dict.values())
    attrs = gen.attributes
    assert (attrs["step"], attrs["epoch"], attrs["device"], attrs["training"]) == (4, 0, "cuda:0", True)
    assert tuple(attrs["avg_frequencies_geo"].shape) == (1, 2048)
    assert tuple(attrs["avg_phase_shifts_app"].shape) == (1, 768)


@pytest.mark.parametrize("model", ["A", "B"])
def test_ema_shadow_params_match_generator(official_fixtures, model):
    gen_path, ema_path = _paths(official_fixtures, model)
    gen = read_official_generator(gen_path)
    ema = read_official_ema(ema_path, gen)
    assert (ema.decay, ema.num_updates, len(ema.shadow_params)) == (0.999, 4, MODELS[model][1])
    assert [tuple(t.shape) for t in ema.shadow_params] == [tuple(v.shape) for v in gen.state_dict.values()]


@pytest.mark.parametrize("model", ["A", "B"])
def test_render_weights_are_the_ema_weights(official_fixtures, model):
    gen_path, ema_path = _paths(official_fixtures, model)
    config, weights, info = load_official_checkpoint(gen_path)
    assert info["ema"] is True and info["ema_path"] == ema_path and info["warning"] is None
    raw = read_official_generator(gen_path).state_dict
    assert list(weights) == list(raw)
    changed = sum(int((weights[k] != raw[k]).sum()) for k in raw) / sum(v.numel() for v in raw.values())
    assert 0.40 < changed < 0.50            # README: raw and EMA weights differ in 45% of elements
    ref = np.load(official_fixtures.reference_a if model == "A" else official_fixtures.reference_b)
    for seed in (0, 1):
        for branch in ("geo", "app"):
            freq, phase = _mapping(weights, branch, ref[f"s{seed}_z_{branch}"])
            np.testing.assert_allclose(freq.numpy(), ref[f"s{seed}_freq_{branch}"], atol=1e-5, rtol=0)
            np.testing.assert_allclose(phase.numpy(), ref[f"s{seed}_phase_{branch}"], atol=1e-5, rtol=0)
    raw_freq, _ = _mapping(raw, "geo", ref["s0_z_geo"])         # the raw weights miss clearly
    assert np.abs(raw_freq.numpy() - ref["s0_freq_geo"]).max() > 1e-2


def test_without_ema_file_raw_weights_and_warning(official_fixtures, tmp_path):
    lonely = tmp_path / "gridA_200000_generator.pth"
    os.symlink(official_fixtures.generator_a, lonely)
    config, weights, info = load_official_checkpoint(lonely)
    assert info["ema"] is False and "no EMA file" in info["warning"]
    raw = read_official_generator(official_fixtures.generator_a).state_dict
    assert all(torch.equal(weights[k], raw[k]) for k in raw)


def test_ema_file_found_by_prefix_not_by_splitting_on_generator(official_fixtures, tmp_path):
    # The official tools cut the path at its first "generator": a folder named generators/ breaks them.
    folder = tmp_path / "generators"
    folder.mkdir()
    for src, name in ((official_fixtures.generator_b, "315000_generator.pth"),
                      (official_fixtures.ema_b, "315000_ema.pth"), (official_fixtures.ema_a, "ema.pth")):
        os.symlink(src, folder / name)
    assert find_ema_file(folder / "315000_generator.pth") == folder / "315000_ema.pth"
    assert find_ema_file(folder / "generator.pth") == folder / "ema.pth"
    assert find_ema_file(folder / "model.pth") is None
    _, _, info = load_official_checkpoint(folder / "315000_generator.pth")
    assert info["ema"] is True and info["ema_path"] == folder / "315000_ema.pth"


def test_ema_of_another_model_is_refused(official_fixtures):
    gen = read_official_generator(official_fixtures.generator_a)
    with pytest.raises(CheckpointError) as err:
        read_official_ema(official_fixtures.ema_b, gen)
    assert err.value.path == official_fixtures.ema_b
    assert "EMA holds 50 shadow tensors" in str(err.value) and "53 parameters" in str(err.value)


def test_inversion_file_reads_and_round_trips(official_fixtures, tmp_path):
    config = GeneratorConfig.official(grid=True)
    codes = read_inversion_file(official_fixtures.inversion_a, config)
    assert list(codes) == list(INVERSION_KEYS)
    independent = torch.load(official_fixtures.inversion_a, map_location="cpu", weights_only=True)
    for key in INVERSION_KEYS:
        width = 2048 if "_geo_" in key else 768
        assert tuple(codes[key].shape) == (1, width) and codes[key].dtype == torch.float32
        assert torch.equal(codes[key], independent[key].detach())
    out = tmp_path / "freq_phase_offset_mine.pth"
    write_inversion_file(out, {k: codes[k] for k in reversed(INVERSION_KEYS)}, config)
    assert os.listdir(tmp_path) == [out.name]                    # no temp leftovers
    assert len({n.split("/", 1)[0] for n in zipfile.ZipFile(out).namelist()}) == 1
    reloaded = torch.load(out, weights_only=True)
    assert list(reloaded) == list(INVERSION_KEYS)
    again = read_inversion_file(out)
    assert all(torch.equal(again[k], codes[k]) and torch.equal(reloaded[k], codes[k]) for k in INVERSION_KEYS)


def test_inversion_shapes_checked_against_config(official_fixtures, tmp_path):
    small = GeneratorConfig(hidden_dim=64)
    with pytest.raises(CheckpointError, match=r"w_geo_frequencies has shape \(1, 2048\), expected \(1, 512\)"):
        read_inversion_file(official_fixtures.inversion_a, small)
    codes = read_inversion_file(official_fixtures.inversion_a)
    codes["w_app_phase_shifts"] = codes["w_app_phase_shifts"][:, :100]
    target = tmp_path / "bad.pth"
    with pytest.raises(CheckpointError, match="w_app_phase_shifts has shape"):
        write_inversion_file(target, codes)
    codes = read_inversion_file(official_fixtures.inversion_a)
    codes["w_geo_phase_shifts"][0, 3] = float("nan")
    with pytest.raises(CheckpointError, match="NaN"):
        write_inversion_file(target, codes)
    assert not target.exists() and os.listdir(tmp_path) == []


def test_sniff_kinds(official_fixtures):
    fx = official_fixtures
    assert sniff_checkpoint_kind(fx.generator_a) == "official-generator"
    assert sniff_checkpoint_kind(fx.generator_b) == "official-generator"
    assert sniff_checkpoint_kind(fx.ema_a) == "official-ema"
    assert sniff_checkpoint_kind(fx.inversion_a) == "official-inversion"
    assert sniff_checkpoint_kind(fx.reference_a) == "unknown"       # an npz is a zip, not a torch file
    assert sniff_checkpoint_kind(fx.folder) == "unknown"
