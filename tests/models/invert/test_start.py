"""The start search of the CPU presets: the candidate closest to the target wins."""
from __future__ import annotations

import math

from models.field.latents import codes_for_seeds
from models.invert.optimize import RenderSetup
from models.invert.start import CANDIDATE_PSI, CANDIDATE_SEED_BASE, SCORE_SIZE, choose_start
from models.invert.targets import make_target
from models.render.renderer import render


def _target_from(model, codes):
    setup = RenderSetup.from_defaults(model.render_defaults)
    result = render(model.generator, codes, math.pi / 2, math.pi / 2, setup.options(SCORE_SIZE, 24))
    return make_target(result.rgb_uint8(), result.mask_ids(), SCORE_SIZE, crop="none"), setup


def test_the_candidate_a_target_was_rendered_from_is_chosen(demo_model):
    seed = CANDIDATE_SEED_BASE + 5
    target, setup = _target_from(demo_model, codes_for_seeds(demo_model.generator, [seed], CANDIDATE_PSI))
    name, codes, score = choose_start(demo_model.generator, target, 8, True, setup.options(SCORE_SIZE, 24))
    assert name.startswith(f"sample code {seed} ") and score > 0.99
    name, _, _ = choose_start(demo_model.generator, target, 0, True, setup.options(SCORE_SIZE, 24))
    assert name == "average codes"                      # the official start when the search is off
