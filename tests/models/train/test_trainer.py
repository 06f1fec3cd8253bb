"""The training loop in-process on toy data: finite losses, EMA, run files, exact resume."""
import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from models.io.model import load_model
from models.train.curriculum import Stage
from models.train.state import load_checkpoint
from models.train.step import generator_param_groups
from models.train.trainer import Trainer, TrainSettings
from tests.models.train.helpers import MemoryDataset, tiny_curriculum

pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py

SETTINGS = TrainSettings(checkpoint_every=3, preview_every=3, log_every=2, preview_size=16, preview_count=2)


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    n = trainer.nets
    out = {f"g.{k}": v.clone() for k, v in n.generator.state_dict().items()}
    out.update({f"di.{k}": v.clone() for k, v in n.d_img_raw.state_dict().items()})
    out.update({f"ds.{k}": v.clone() for k, v in n.d_seg_raw.state_dict().items()})
    out.update({f"ema.{i}": s.clone() for i, s in enumerate(n.ema.shadow)})
    out.update({f"ema2.{i}": s.clone() for i, s in enumerate(n.ema2.shadow)})
    for name in ("opt_g", "opt_d_img", "opt_d_seg"):
        for pid, st in getattr(n, name).state_dict()["state"].items():
            out.update({f"{name}.{pid}.{k}": v.clone() for k, v in st.items()})
    return out


def test_a_few_steps_train_and_write_the_run_folder(tmp_path):
    settings = dataclasses.replace(SETTINGS, keep_every=2)
    trainer = Trainer.start(tiny_curriculum(), MemoryDataset, tmp_path / "run", settings, max_steps=4)
    initial = [p.detach().clone() for p in trainer.nets.generator.parameters()]
    seen = []
    assert trainer.run(callback=seen.append) == "finished"
    assert [m["step"] for m in seen] == [1, 2, 3, 4]
    for m in seen:
        assert all(np.isfinite(m[k]) for k in ("d_img", "d_seg", "g_img", "g_seg", "r1", "r1_seg"))
        assert m["img_size"] == 16 and m["images_per_s"] > 0
    assert seen[0]["alpha"] == 0.0 and seen[1]["alpha"] == 0.25         # fade_steps 4
    raw = list(trainer.nets.generator.parameters())
    ema = trainer.nets.ema.shadow
    assert trainer.nets.ema.num_updates == 4
    assert any(not torch.equal(e, i) for e, i in zip(ema, initial))    # the average moved ...
    assert any(not torch.equal(e, r) for e, r in zip(ema, raw))        # ... but lags the raw weights
    run = trainer.folder
    records = run.read_metrics()
    assert [r["step"] for r in records] == [2, 4]
    expected_keys = {"d_img", "d_seg", "g_img", "g_seg", "r1", "step_time_s", "images_per_s", "alpha", "stage", "time"}
    assert expected_keys <= set(records[0])
    status = json.loads(run.status.read_text())
    assert status["state"] == "finished" and status["step"] == 4
    grid = np.asarray(Image.open(run.previews / "latest.png"))
    assert grid.shape == (2 * 16, 4 * 16, 3) and grid.std() > 0
    assert sorted(p.name for p in run.previews.iterdir()) == ["00000000.png", "00000003.png", "00000004.png",
                                                              "latest.png"]
    state = load_checkpoint(run.latest)
    assert state["step"] == 4 and state["ema"]["num_updates"] == 4
    assert [load_checkpoint(run.snapshot_dir(n))["step"] for n in (2, 4)] == [2, 4]    # kept copies
    model = load_model(run.latest / "model.fenerf")                     # the EMA generator, native format
    for (key, value), shadow in zip(model.generator.state_dict().items(), ema):
        torch.testing.assert_close(value, shadow, rtol=0, atol=0, msg=key)
    assert model.info["provenance"]["step"] == 4


def test_resumed_run_matches_an_uninterrupted_one(tmp_path):
    straight = Trainer.start(tiny_curriculum(), MemoryDataset, tmp_path / "a", SETTINGS, max_steps=5)
    straight.run(3)                                                      # saves at step 3
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    straight.run(5)
    resumed = Trainer.resume(tmp_path / "b", MemoryDataset)
    assert resumed.step_count == 3
    resumed.run(5)
    a, b = weights(straight), weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=0, msg=key)
    records_a, records_b = straight.folder.read_metrics(), resumed.folder.read_metrics()
    assert [r["step"] for r in records_b] == [r["step"] for r in records_a] == [2, 3, 4, 5]
    losses = ("d_img", "d_seg", "g_img", "g_seg")
    for ra, rb in zip(records_a, records_b):
        assert [ra[k] for k in losses] == [rb[k] for k in losses]


def test_stop_request_saves_and_resume_goes_on(tmp_path):
    trainer = Trainer.start(tiny_curriculum(), MemoryDataset, tmp_path / "run", SETTINGS, max_steps=6)

    def stop_after_two(metrics):
        if metrics["step"] == 2:
            trainer.request_stop()

    assert trainer.run(callback=stop_after_two) == "stopped"
    assert trainer.step_count == 2 and load_checkpoint(trainer.folder.latest)["step"] == 2
    assert json.loads(trainer.folder.status.read_text())["state"] == "stopped"
    with pytest.raises(FileExistsError, match="already holds a training run"):
        Trainer.start(tiny_curriculum(), MemoryDataset, tmp_path / "run", SETTINGS)
    resumed = Trainer.resume(tmp_path / "run", MemoryDataset)
    assert resumed.run() == "finished" and resumed.step_count == 6


def test_stage_change_switches_resolution_and_restarts_the_fade(tmp_path):
    cur = tiny_curriculum(stages=(Stage(0, 4, 6, 16, 2, 1e-3, 2e-3, 2e-3), Stage(2, 2, 6, 32, 1, 5e-4, 1e-3, 1e-3)))
    trainer = Trainer.start(cur, MemoryDataset, tmp_path / "run", SETTINGS, max_steps=3)
    seen = []
    trainer.run(callback=seen.append)
    assert [(m["img_size"], m["batch_size"], m["alpha"]) for m in seen] == [(16, 4, 0.0), (16, 4, 0.25), (32, 2, 0.0)]
    assert trainer.nets.opt_g.param_groups[0]["lr"] == 5e-4
    assert trainer.stream.state()["epoch"] == 1                          # a new stage starts a new epoch


def test_mapping_lr_scale_splits_the_mapping_networks(tmp_path):
    trainer = Trainer.start(tiny_curriculum(mapping_lr_scale=0.05), MemoryDataset, tmp_path / "run", SETTINGS)
    trainer.step()
    groups = {g["name"]: g for g in trainer.nets.opt_g.param_groups}
    assert groups["generator"]["lr"] == pytest.approx(1e-3)
    assert groups["geo_mapping_network"]["lr"] == groups["app_mapping_network"]["lr"] == pytest.approx(5e-5)
    gen = trainer.nets.generator
    geo = {id(p) for p in gen.siren.geo_mapping_network.parameters()}
    assert {id(p) for p in groups["geo_mapping_network"]["params"]} == geo
    total = sum(len(g["params"]) for g in trainer.nets.opt_g.param_groups)
    assert total == len(list(gen.parameters()))
    single = generator_param_groups(gen, 1.0)
    assert len(single) == 1 and len(single[0]["params"]) == total


def test_fine_tuning_starts_from_a_models_weights_and_sizes(tmp_path, official_fixtures):
    source = load_model(official_fixtures.generator_b)                  # official no-grid model, EMA weights
    cur = tiny_curriculum(generator=None, stages=(Stage(0, 2, 4, 16, 1, 1e-5, 1e-4, 1e-4),))
    trainer = Trainer.start(cur, MemoryDataset, tmp_path / "run", SETTINGS, init_model=official_fixtures.generator_b,
                            max_steps=1)
    assert trainer.gen_cfg == source.generator.cfg
    for (key, mine), theirs in zip(trainer.nets.generator.state_dict().items(), source.generator.state_dict().values()):
        assert torch.equal(mine, theirs), key
    assert trainer.run() == "finished"
    exported = load_model(trainer.folder.latest / "model.fenerf")
    assert exported.generator.cfg == source.generator.cfg
    assert json.loads(trainer.folder.config.read_text())["extra"]["init_model"] == str(official_fixtures.generator_b)
    with pytest.raises(ValueError, match="no generator sizes"):
        Trainer.start(cur, MemoryDataset, tmp_path / "other", SETTINGS)
