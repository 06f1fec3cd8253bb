"""Codes files: our .fcodes and the official inversion format, checked against the model."""
import pytest
import torch

from models.export.common import portrait_from_file
from models.field.config import GeneratorConfig
from models.field.generator import Generator
from models.field.latents import codes_for_seeds
from models.invert.session_codes import PortraitCodes, save_codes
from models.io.errors import CheckpointError


def test_both_codes_formats_give_base_plus_offset(tmp_path, model_b):
    portrait = PortraitCodes.start(codes_for_seeds(model_b, [3], 0.7))
    portrait.offset = portrait.offset.map(lambda t: t + 0.25)
    for name in ("face.fcodes", "freq_phase_offset_face.pth"):
        loaded, gen = portrait_from_file(save_codes(tmp_path / name, portrait), model_b)
        assert gen is model_b                                   # untuned: the model itself
        for got, want in zip(loaded.tensors(), portrait.effective.tensors()):
            torch.testing.assert_close(got, want)


def test_codes_of_another_model_are_refused(tmp_path, model_b, official_fixtures):
    with pytest.raises(CheckpointError, match="codes are 2048 geometry / 768 appearance wide") as info:
        portrait_from_file(official_fixtures.inversion_a, Generator(GeneratorConfig(hidden_dim=64)))
    assert str(official_fixtures.inversion_a) in str(info.value)
    with pytest.raises(CheckpointError, match="no such"):
        portrait_from_file(tmp_path / "missing.fcodes", model_b)
