"""A plateau with `plateau_lr_drops` left restarts from the best state at a smaller learning rate."""
from __future__ import annotations

import pytest
import torch

from models.invert.optimize import Inversion, RenderSetup
from models.invert.presets import preset
from models.invert.targets import make_target
from tests.models.invert.conftest import known_codes, self_render


def test_a_plateau_restarts_from_the_best_at_a_smaller_rate(demo_model):
    rgb, ids = self_render(demo_model, known_codes(demo_model), 32)
    settings = preset("quick").replace(size=32, grid=((0, 8),), eval_size=32, eval_every=1, patience=2,
                                       plateau_lr_drops=1, plateau_lr_factor=0.05, start_candidates=0,
                                       lr=0.05, code_noise=0.0, iterations=80)
    inv = Inversion(demo_model.generator, make_target(rgb, ids, 32, crop="none"), settings,
                    setup=RenderSetup.from_defaults(demo_model.render_defaults))
    records, offsets, best = [], [], []
    for record in inv:
        records.append(record)
        offsets.append(inv.state.current.offset.map(torch.clone))
        best.append(inv.best.offset.map(torch.clone))
    drops = [k for k in range(1, len(records)) if records[k].lr < 0.5 * records[k - 1].lr]
    assert len(drops) == 1 and records[-1].stopped == "plateau"      # one restart, then the next plateau stops
    d = drops[0]
    assert records[d].lr == pytest.approx(0.05 * records[d - 1].lr)
    # the step after the drop starts from the best state (fresh Adam moments: one step moves each
    # coordinate by at most the new rate), not from where the plateau left the codes
    moved = max(float((a - b).abs().max()) for a, b in zip(offsets[d].tensors(), best[d - 1].tensors()))
    assert moved <= records[d].lr * 1.01
    wandered = max(float((a - b).abs().max()) for a, b in zip(offsets[d - 1].tensors(), best[d - 1].tensors()))
    assert wandered > 10 * records[d].lr
