"""The 3D distillation that makes the demo model: it learns, resumes exactly, and exports a usable model."""
import json
import math

import torch

from models.distill.loop import Distiller, DistillSettings
from models.field.config import GeneratorConfig
from models.intake.framing import framing_from_config
from models.io.model import load_model

TINY = GeneratorConfig(grid=True, hidden_dim=16, geo_layers=3, app_layers=2, mapping_hidden=16, mapping_depth=2,
                       label_layers=2, grid_channels=4, grid_resolution=8).to_dict()


def _settings(**changes) -> DistillSettings:
    base = dict(steps=40, batch=2, points=128, image_size=8, image_batch=1, image_steps=6, checkpoint_every=1000,
                export_every=1000, preview_every=1000, generator=TINY)
    return DistillSettings(**{**base, **changes})


def test_losses_fall_and_stay_finite(tmp_path):
    torch.manual_seed(0)
    distiller = Distiller(tmp_path / "run", _settings(lr=2e-3))
    first = [distiller.step()["density"] for _ in range(4)]
    for _ in range(30):
        distiller.step()
    last = [distiller.step()["density"] for _ in range(4)]
    assert all(math.isfinite(v) for v in first + last)
    assert sum(last) < sum(first)


def test_resume_continues_exactly(tmp_path):
    straight = Distiller(tmp_path / "a", _settings())
    for _ in range(4):
        straight.step()
    interrupted = Distiller(tmp_path / "b", _settings())
    for _ in range(2):
        interrupted.step()
    interrupted.save_checkpoint()
    resumed = Distiller(tmp_path / "b", resume=True)
    assert resumed.step_count == 2
    for _ in range(2):
        resumed.step()
    for key, value in straight.generator.state_dict().items():
        assert torch.allclose(value, resumed.generator.state_dict()[key], atol=1e-6), key


def test_export_is_a_loadable_model_with_the_procedural_framing(tmp_path):
    distiller = Distiller(tmp_path / "run", _settings())
    distiller.step()
    distiller.export(tmp_path / "model.fenerf")
    model = load_model(tmp_path / "model.fenerf")
    assert model.generator.cfg == GeneratorConfig.from_dict(TINY)
    framing = framing_from_config(model.framing)
    assert 0.4 < framing.eye_mid[1] < framing.mouth_mid[1] < 0.9
    restarted = Distiller(tmp_path / "again", _settings(), init=tmp_path / "model.fenerf")
    for key, value in distiller.ema.state_dict().items():
        assert torch.equal(value, restarted.generator.state_dict()[key])


def test_cli_makes_an_official_size_run_with_the_given_batch(tmp_path, capsys):
    from models.cli import main
    out = tmp_path / "official"
    assert main(["distill", "--out", str(out), "--architecture", "official-nogrid", "--steps", "1", "--batch", "1",
                 "--points", "64", "--image-every", "1000"]) == 0
    settings = json.loads((out / "settings.json").read_text())
    assert (settings["batch"], settings["points"], settings["image_every"]) == (1, 64, 1000)
    cfg = load_model(out / "model.fenerf").generator.cfg
    assert (cfg.hidden_dim, cfg.grid, cfg.geo_layers) == (256, False, 8)
    assert "exported" in capsys.readouterr().out
