"""Framings: the CelebA recipe of spec 14.2 + 9.2, serialisation, and reading a model's framing."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from models.intake import IntakeError, Framing, framing_by_name, framing_from_config, read_model_framing
from models.intake.align import similarity
from models.io.native import save_tensors


def _rot90(v):
    return np.array([-v[1], v[0]])


def _spec_quad(eyes: np.ndarray, mouth: np.ndarray) -> np.ndarray:
    """Spec 14.2 written out independently: corners (top-left, top-right, bottom-left) of the
    CelebA-HQ square for a face (eyes and mouth corners: image-left one first)."""
    e, m = eyes.mean(0), mouth.mean(0)
    x = (eyes[1] - eyes[0]) - _rot90(m - e)
    x = x / np.linalg.norm(x) * max(2 * np.linalg.norm(eyes[1] - eyes[0]), 1.8 * np.linalg.norm(m - e))
    y = _rot90(x)
    c = e + 0.1 * (m - e)
    return np.stack([c - x - y, c + x - y, c - x + y])


@pytest.mark.parametrize("seed", range(6))
def test_celeba_framing_is_the_central_80_percent_of_the_spec_square(seed):
    rng = np.random.default_rng(seed)
    gap, drop = rng.uniform(40, 400), rng.uniform(0.85, 1.35)     # both branches of the max()
    roll, centre = rng.uniform(-0.6, 0.6), rng.uniform(200, 1800, 2)
    turn = np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]])
    local_eyes = np.array([[-gap / 2, 0], [gap / 2, 0]])
    local_mouth = np.array([[-0.4 * gap, drop * gap], [0.4 * gap, drop * gap]]) + rng.normal(0, 3, (2, 2))
    eyes, mouth = local_eyes @ turn.T + centre, local_mouth @ turn.T + centre
    matrix = similarity(eyes, mouth, Framing.celeba(), 512)
    corners = _spec_quad(eyes, mouth) @ matrix[:, :2].T + matrix[:, 2]
    # the spec square is 320/256 times the model frame, centred on it (spec 9.2)
    expected = np.array([[-64.0, -64.0], [576.0, -64.0], [-64.0, 576.0]])
    assert np.allclose(corners, expected, atol=1e-6)


def test_celeba_framing_is_the_hq_square_cropped_to_its_centre():
    hq, model = Framing.celeba_hq(), Framing.celeba()
    back = model.rescaled(320 / 256)
    assert np.allclose(back.eye_mid, hq.eye_mid) and np.allclose(back.mouth_mid, hq.mouth_mid)
    assert back.eye_dist == pytest.approx(hq.eye_dist)
    assert model.mouth_mid[1] - model.eye_mid[1] == pytest.approx((hq.mouth_mid[1] - hq.eye_mid[1]) / 0.8)


def test_dict_round_trip_and_custom_framings():
    demo = Framing.from_landmarks(eye_mid=(0.5, 0.42), mouth_mid=(0.5, 0.7), name="demo")
    assert Framing.from_dict(json.loads(json.dumps(demo.to_dict()))) == demo
    assert Framing.from_dict(Framing.celeba().to_dict()) == Framing.celeba()
    assert framing_from_config(None) == Framing.celeba()
    assert framing_from_config(demo.to_dict()) == demo
    assert framing_by_name("celeba-hq") == Framing.celeba_hq()
    with pytest.raises(IntakeError, match="unknown framing 'ffhq'"):
        framing_by_name("ffhq")
    with pytest.raises(IntakeError, match="malformed framing"):
        Framing.from_dict({"eye_mid": [0.5]})
    with pytest.raises(IntakeError, match="coincide"):
        Framing.from_landmarks((0.5, 0.5), (0.5, 0.5))


def test_a_framing_lands_an_average_face_on_its_targets():
    demo = Framing.from_landmarks(eye_mid=(0.45, 0.4), mouth_mid=(0.45, 0.72))
    eyes = np.array([[300.0, 410.0], [420.0, 410.0]])
    mouth = np.array([[320.0, 540.0], [400.0, 540.0]])
    matrix = similarity(eyes, mouth, demo, 256)
    mapped = np.stack([eyes.mean(0), mouth.mean(0)]) @ matrix[:, :2].T + matrix[:, 2]
    assert np.allclose(mapped / 256, [demo.eye_mid, demo.mouth_mid], atol=1e-9)


def test_reading_a_models_framing(tmp_path):
    demo = Framing.from_landmarks((0.5, 0.45), (0.5, 0.75), eye_dist=0.3, name="demo")
    native = tmp_path / "demo.fenerf"
    save_tensors(native, {"w": torch.zeros(2)}, {"framing": demo.to_dict()})
    official = tmp_path / "x_generator.pth"
    official.write_bytes(b"not inspected")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"framing": demo.to_dict()}))
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"render": {}}))
    assert read_model_framing(native) == demo
    assert read_model_framing(config) == demo
    assert read_model_framing(plain) == Framing.celeba()
    assert read_model_framing(official) == Framing.celeba()
    assert read_model_framing(None) == Framing.celeba()
    with pytest.raises(IntakeError, match="no such model file"):
        read_model_framing(tmp_path / "missing.fenerf")
    broken = tmp_path / "broken.fenerf"
    broken.write_bytes(b"\x01")
    with pytest.raises(IntakeError, match=r"broken\.fenerf: .*truncated"):
        read_model_framing(broken)
