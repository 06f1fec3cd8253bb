"""Codes files: the official layout (fixture-compatible) and ours; appearance transfer."""
from __future__ import annotations

import pytest
import torch

from models.field.codes import Codes
from models.invert.session_codes import PortraitCodes, load_codes, save_codes
from models.invert.swap import swap_appearance
from models.io.errors import CheckpointError
from models.io.official import INVERSION_KEYS, read_inversion_file


def _codes(seed: int, geo: int = 2048, app: int = 768) -> PortraitCodes:
    g = torch.Generator().manual_seed(seed)
    base = Codes(*(torch.randn(1, n, generator=g) for n in (geo, geo, app, app)))
    offset = Codes(*(0.05 * torch.randn(1, n, generator=g) for n in (geo, geo, app, app)))
    return PortraitCodes(base, offset, {"name": f"p{seed}"})


def test_official_fixture_round_trip(official_fixtures, tmp_path):
    codes = load_codes(official_fixtures.inversion_a)
    raw = torch.load(official_fixtures.inversion_a, map_location="cpu", weights_only=True)
    expected = raw["w_geo_frequencies"] + raw["w_geo_frequency_offsets"]
    assert torch.equal(codes.effective.geo_freq, expected.detach())
    written = save_codes(tmp_path / "freq_phase_offset_again.pth", codes)
    # what we write loads in the fixture's layout: plain torch.load, the 8 keys, same shapes
    again = torch.load(written, map_location="cpu", weights_only=True)
    assert list(again) == list(INVERSION_KEYS)
    for key in INVERSION_KEYS:
        assert again[key].shape == raw[key].shape and again[key].dtype == torch.float32
        assert torch.equal(again[key], raw[key].detach())
    assert read_inversion_file(written).keys() == raw.keys()


def test_our_format_round_trip(tmp_path):
    codes = _codes(1)
    codes.info["miou"] = 0.93
    path = save_codes(tmp_path / "p1.fcodes", codes)
    back = load_codes(path)
    for a, b in zip(back.base.tensors() + back.offset.tensors(), codes.base.tensors() + codes.offset.tensors()):
        assert torch.equal(a, b)
    assert back.info == codes.info


def test_model_file_is_not_codes(tmp_path):
    from models.io.native import save_tensors
    save_tensors(tmp_path / "m.fcodes", {"x": torch.zeros(2)}, {"generator": {}})
    with pytest.raises(CheckpointError, match="not a portrait codes file"):
        load_codes(tmp_path / "m.fcodes")
    with pytest.raises(CheckpointError, match="no such codes file"):
        load_codes(tmp_path / "absent.pth")


def test_swap_takes_effective_geometry_of_a_and_appearance_of_b():
    a, b = _codes(1), _codes(2)
    c = swap_appearance(a, b)
    assert torch.equal(c.effective.geo_freq, a.effective.geo_freq)
    assert torch.equal(c.effective.geo_phase, a.effective.geo_phase)
    assert torch.equal(c.effective.app_freq, b.effective.app_freq)
    assert torch.equal(c.effective.app_phase, b.effective.app_phase)
    with pytest.raises(ValueError, match="another model"):
        swap_appearance(a, _codes(3, geo=384, app=128))


def test_swap_cli(tmp_path, official_fixtures):
    from models.cli import main
    a = save_codes(tmp_path / "a.fcodes", _codes(1))
    rc = main(["swap", str(a), str(official_fixtures.inversion_a), "--out", str(tmp_path / "c.pth")])
    assert rc == 0
    c = load_codes(tmp_path / "c.pth")
    fixture = load_codes(official_fixtures.inversion_a)
    assert torch.equal(c.effective.app_phase, fixture.effective.app_phase)
    assert torch.equal(c.effective.geo_phase, _codes(1).effective.geo_phase)
    assert main(["swap", str(a), str(tmp_path / "missing.pth"), "--out", str(tmp_path / "d.pth")]) == 2
