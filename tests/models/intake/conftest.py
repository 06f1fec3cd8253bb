"""Real data for the intake tests: the shared CelebA-aligned portrait and its hand-made mask."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models import intake
from tests.conftest import shared_dir


@pytest.fixture(scope="session")
def portrait_path() -> Path:
    """img.jpg: 1024x1024, already CelebA-HQ aligned."""
    path = shared_dir() / "data" / "portrait" / "img.jpg"
    if not path.is_file():
        pytest.skip(f"shared portrait not found at {path}")
    return path


@pytest.fixture(scope="session")
def portrait_rgb(portrait_path: Path) -> np.ndarray:
    with Image.open(portrait_path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="session")
def reference_mask(portrait_path: Path) -> np.ndarray:
    """The hand-made 512x512 ID mask of the portrait."""
    with Image.open(portrait_path.with_name("mask.png")) as image:
        return np.asarray(image)


@pytest.fixture(scope="session")
def portrait_photo(portrait_path: Path) -> intake.Photo:
    return intake.load_photo(portrait_path)


@pytest.fixture(scope="session")
def portrait_face(portrait_photo: intake.Photo) -> intake.Face:
    return intake.pick_face(intake.detect_faces(portrait_photo), 0, portrait_photo.name)


@pytest.fixture(scope="session")
def portrait_mask(portrait_photo: intake.Photo, portrait_face: intake.Face) -> np.ndarray:
    """The automatic mask of the portrait (1024x1024, photo frame)."""
    return intake.parse_face(portrait_photo, portrait_face)
