"""Real data shared by the painter tests: the portrait and its hand-made ID mask (512x512)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from painter import maskio
from tests.conftest import shared_dir

PORTRAIT = shared_dir() / "data" / "portrait"


@pytest.fixture(scope="session")
def portrait() -> Path:
    """Folder of the real portrait: img.jpg (1024x1024) and mask.png (512x512 ids)."""
    return PORTRAIT


@pytest.fixture(scope="session")
def real_mask() -> np.ndarray:
    return maskio.load_mask(PORTRAIT / "mask.png").ids


@pytest.fixture(scope="session")
def real_photo(real_mask: np.ndarray) -> np.ndarray:
    """The portrait scaled to the mask's 512x512."""
    return maskio.fit_photo(maskio.load_photo(PORTRAIT / "img.jpg"), real_mask.shape)
