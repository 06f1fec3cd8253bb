"""Official-mode renders with the recorded RNG seeds reproduce the official reference renders."""
import numpy as np
import pytest
import torch

from models.field.codes import Codes
from models.io.official import read_inversion_file
from models.render.options import RenderOptions
from models.render.renderer import render
from tests.models.fixture_models import fixture_model, reference_average, reference_codes, render_records

MAX_ABS = 1e-3
MIN_FRACTION = 0.995


def _codes_for(name: str, ref, official_fixtures) -> Codes:
    if name.startswith("inv_"):
        t = read_inversion_file(official_fixtures.inversion_a)
        return Codes(t["w_geo_frequencies"] + t["w_geo_frequency_offsets"],
                     t["w_geo_phase_shifts"] + t["w_geo_phase_shift_offsets"],
                     t["w_app_frequencies"] + t["w_app_frequency_offsets"],
                     t["w_app_phase_shifts"] + t["w_app_phase_shift_offsets"])
    codes = reference_codes(ref, int(name[1]))
    return codes.truncate(reference_average(ref), 0.7) if "psi0p7" in name else codes


def _cases():
    cases = []
    for tag in ("A", "B"):
        names = ["s0_front_32_", "s0_front_64_", "s0_side_32_", "s0_side_64_", "s0_psi0p7_front_64_",
                 "s1_front_32_", "s1_front_64_", "s1_side_32_", "s1_side_64_"]
        cases += [(tag, n) for n in names + (["inv_front_32_"] if tag == "A" else [])]
    return cases


@pytest.mark.parametrize("tag,name", _cases())
def test_official_mode_reproduces_reference(official_fixtures, tag, name):
    gen_path = official_fixtures.generator_a if tag == "A" else official_fixtures.generator_b
    ref = np.load(official_fixtures.reference_a if tag == "A" else official_fixtures.reference_b)
    record = render_records(official_fixtures.meta, tag)[name]
    o = record["opts"]
    opts = RenderOptions(img_size=o["img_size"], num_steps=o["num_steps"], fov=o["fov"], mode="official",
                         chunk_points=5000)
    torch.manual_seed(record["rng_seed"])
    result = render(fixture_model(gen_path).generator, _codes_for(name, ref, official_fixtures),
                    o["h_mean"], o["v_mean"], opts)
    image_err = np.abs(result.image[0].numpy() - ref[name + "image"]).max(0)
    assert (image_err <= MAX_ABS).mean() >= MIN_FRACTION
    assert (np.abs(result.depth[0].numpy() - ref[name + "depth"]) <= MAX_ABS).mean() >= MIN_FRACTION
    assert (np.abs(result.opacity[0].numpy() - ref[name + "opacity"]) <= MAX_ABS).mean() >= MIN_FRACTION
    assert (result.mask[0].numpy() == ref[name + "mask"]).mean() >= MIN_FRACTION
    assert sorted(np.unique(result.mask[0].numpy()).tolist()) == record["labels_present"]
