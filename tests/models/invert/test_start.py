"""The start search of the CPU presets: the bank candidate closest to the target wins; the bank's
masks are rendered once per model and cached."""
from __future__ import annotations

import math

import numpy as np
import pytest

from models.field.latents import codes_for_seeds
from models.invert import start_bank
from models.invert.optimize import RenderSetup
from models.invert.start import candidate_name, choose_start
from models.invert.start_bank import BANK_PSI, BANK_SEED_BASE, BANK_SIZE
from models.invert.targets import make_target
from models.render.renderer import render

COUNT = 24


def _setup(model) -> RenderSetup:
    return RenderSetup.from_defaults(model.render_defaults)


def _target_from(model, codes, size: int = BANK_SIZE):
    result = render(model.generator, codes, math.pi / 2, math.pi / 2, _setup(model).options(size, 24))
    return make_target(result.rgb_uint8(), result.mask_ids(), size, crop="none")


def test_the_candidate_a_target_was_rendered_from_is_chosen(demo_model):
    seed = BANK_SEED_BASE + 17
    target = _target_from(demo_model, codes_for_seeds(demo_model.generator, [seed], BANK_PSI))
    opts = _setup(demo_model).options(BANK_SIZE, 24)
    name, _, score = choose_start(demo_model.generator, target, COUNT, True, opts)
    assert name == candidate_name(seed) and score > 0.99
    name, _, _ = choose_start(demo_model.generator, target, 0, True, opts)
    assert name == "average codes"                      # the official start when the search is off


def test_a_bigger_evaluation_still_finds_the_candidate(demo_model):
    """The bank ranks at BANK_SIZE; the finalists are scored at the run's own evaluation size."""
    seed = BANK_SEED_BASE + 5
    target = _target_from(demo_model, codes_for_seeds(demo_model.generator, [seed], BANK_PSI), 96)
    name, _, score = choose_start(demo_model.generator, target, COUNT, False, _setup(demo_model).options(96, 24))
    assert name == candidate_name(seed) and score > 0.99


def test_the_bank_is_rendered_once_then_read_from_the_cache(demo_model, monkeypatch, tmp_path):
    monkeypatch.setenv("FENERF_CACHE", str(tmp_path))
    monkeypatch.setattr(start_bank, "_MEMORY", {})
    opts = _setup(demo_model).options(BANK_SIZE, 12)
    seen = []
    first = start_bank.start_bank(demo_model.generator, 20, opts, lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 20) and seen[-1] == (20, 20)
    assert first.masks.shape == (20, BANK_SIZE, BANK_SIZE) and len(np.unique(first.masks)) > 5
    files = list((tmp_path / "start-banks").glob("*.npz"))
    assert len(files) == 1

    monkeypatch.setattr(start_bank, "_MEMORY", {})      # a new process: read from disk, no renders
    seen.clear()
    again = start_bank.start_bank(demo_model.generator, 20, opts, lambda done, total: seen.append((done, total)))
    assert seen == [] and np.array_equal(again.masks, first.masks)

    files[0].write_bytes(b"not a zip file")             # a damaged cache is rebuilt, not trusted
    monkeypatch.setattr(start_bank, "_MEMORY", {})
    rebuilt = start_bank.start_bank(demo_model.generator, 20, opts, lambda done, total: seen.append((done, total)))
    assert seen and np.array_equal(rebuilt.masks, first.masks)


def test_the_first_rendering_can_be_cancelled(demo_model, monkeypatch, tmp_path):
    monkeypatch.setenv("FENERF_CACHE", str(tmp_path))
    monkeypatch.setattr(start_bank, "_MEMORY", {})

    class Stop(Exception):
        pass

    def cancel_after_first_batch(done, total):
        if done > 0:
            raise Stop

    with pytest.raises(Stop):
        start_bank.start_bank(demo_model.generator, 40, _setup(demo_model).options(BANK_SIZE, 12),
                              cancel_after_first_batch)
    assert not list(tmp_path.glob("start-banks/*.npz")) and not start_bank._MEMORY
