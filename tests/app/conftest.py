"""Fixtures of the app tests: the demo model (loaded once), a session on it, the real portrait."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from models.io.model import DEMO_MODEL, load_model, save_model
from tests.conftest import shared_dir

PORTRAIT = shared_dir() / "data" / "portrait"


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    """Every test in this folder runs on one torch thread (`tests/conftest.py`)."""


@pytest.fixture(autouse=True)
def user_dirs(tmp_path, monkeypatch):
    """Logs and sessions go to the test's folder, never to the user's."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data_home"))


@pytest.fixture(scope="session")
def demo_model_path(tmp_path_factory) -> Path:
    """The bundled demo model; $FENERF_TEST_MODEL overrides it; without either, an untrained model
    of the demo's size (the flow still runs, the pictures are just not faces)."""
    if os.environ.get("FENERF_TEST_MODEL"):
        return Path(os.environ["FENERF_TEST_MODEL"])
    if DEMO_MODEL.exists():
        return DEMO_MODEL
    from models.distill.loop import DEMO_CONFIG
    from models.field.generator import Generator
    torch.manual_seed(0)
    generator = Generator(DEMO_CONFIG)
    generator.siren.init_official()
    path = tmp_path_factory.mktemp("model") / "untrained.fenerf"
    save_model(path, generator, {"img_size": 64, "num_steps": 24, "psi": 0.7}, None, {"note": "untrained"})
    return path


@pytest.fixture(scope="session")
def demo_model(demo_model_path):
    model = load_model(demo_model_path)
    model.generator.average_codes()
    return model


@pytest.fixture
def session(qtbot, demo_model, tmp_path):
    """A StudioSession on the demo model, autosaving under the test's folder; stopped at the end."""
    from fenerf_app.session import StudioSession
    studio = StudioSession(session_root=tmp_path / "sessions", autosave_ms=300)
    studio.use_model(demo_model)
    yield studio
    studio.shutdown()


@pytest.fixture
def portrait_folder() -> Path:
    if not (PORTRAIT / "img.jpg").is_file():
        pytest.skip(f"the shared portrait is missing at {PORTRAIT}")
    return PORTRAIT
