"""Loading the official fixture models and their reference codes for tests."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from models.field.codes import Codes
from models.io.model import LoadedModel, load_model

CODE_KEYS = ("freq_geo", "phase_geo", "freq_app", "phase_app")
AVERAGE_KEYS = ("avg_frequencies_geo", "avg_phase_shifts_geo", "avg_frequencies_app", "avg_phase_shifts_app")


@lru_cache(maxsize=4)
def fixture_model(generator_path: Path) -> LoadedModel:
    return load_model(generator_path)


def reference_codes(ref: np.lib.npyio.NpzFile, seed: int) -> Codes:
    return Codes(*(torch.tensor(ref[f"s{seed}_{k}"])[None] for k in CODE_KEYS))


def reference_average(ref: np.lib.npyio.NpzFile) -> Codes:
    return Codes(*(torch.tensor(ref[k])[None] for k in AVERAGE_KEYS))


def render_records(meta_path: Path, tag: str) -> dict:
    return json.loads(meta_path.read_text())["models"][tag]["renders"]
