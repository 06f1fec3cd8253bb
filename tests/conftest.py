"""Shared test fixtures: the official-format checkpoints and references in ../shared/fixtures."""
from __future__ import annotations

import hashlib
import lzma
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest


def shared_dir() -> Path:
    """The shared folder: $FENERF_SHARED, else the repository's sibling `../shared`."""
    override = os.environ.get("FENERF_SHARED")
    return Path(override) if override else Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """The start-bank cache (`models/invert/start_bank.py`) lives in a session folder, not ~/.cache."""
    previous = os.environ.get("FENERF_CACHE")
    os.environ["FENERF_CACHE"] = str(tmp_path_factory.mktemp("fenerf_cache"))
    yield
    if previous is None:
        os.environ.pop("FENERF_CACHE", None)
    else:
        os.environ["FENERF_CACHE"] = previous


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op torch thread for a module's tests, restored after. Tests of many small tensor ops,
    and the app (whose UI thread needs the other core), gain nothing from a second thread, and on a
    2-core machine it stalls badly whenever another process holds a core."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@dataclass(frozen=True)
class OfficialFixtures:
    """Paths of the decompressed official-format files and the official reference outputs."""

    folder: Path            # session temp folder holding the decompressed .pth files
    generator_a: Path       # latent-grid model (grid (1, 32, 16, 16, 16))
    ema_a: Path
    generator_b: Path       # no-grid model
    ema_b: Path
    inversion_a: Path       # freq_phase_offset_fixtureA.pth (read-only, in the shared folder)
    reference_a: Path       # reference_A.npz
    reference_b: Path
    meta: Path              # fixtures_meta.json


_COMPRESSED = ("gridA_200000_generator.pth", "gridA_200000_ema.pth",
               "nogridB_200000_generator.pth", "nogridB_200000_ema.pth")


def _readme_sha256(readme: Path) -> dict[str, str]:
    """The decompressed files' sha256 values listed in the fixtures README."""
    table = re.findall(r"^\|\s*`([\w.]+\.pth)`\s*\|\s*[\d,]+\s*\|\s*`([0-9a-f]{64})`\s*\|",
                       readme.read_text(), flags=re.MULTILINE)
    return dict(table)


@pytest.fixture(scope="session")
def official_fixtures(tmp_path_factory) -> OfficialFixtures:
    """Decompress the four `.pth.xz` fixtures once per session (sha256-checked)."""
    source = shared_dir() / "fixtures"
    if not source.is_dir():
        pytest.skip(f"official fixtures not found at {source} (set FENERF_SHARED to the shared folder)")
    expected = _readme_sha256(source / "README.md")
    folder = tmp_path_factory.mktemp("official_fixtures")
    for name in _COMPRESSED:
        target = folder / name
        digest = hashlib.sha256()
        with lzma.open(source / f"{name}.xz") as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 22):
                digest.update(chunk)
                dst.write(chunk)
        if digest.hexdigest() != expected.get(name):
            raise AssertionError(f"{target}: sha256 {digest.hexdigest()} differs from the fixtures README")
    return OfficialFixtures(
        folder=folder,
        generator_a=folder / _COMPRESSED[0], ema_a=folder / _COMPRESSED[1],
        generator_b=folder / _COMPRESSED[2], ema_b=folder / _COMPRESSED[3],
        inversion_a=source / "freq_phase_offset_fixtureA.pth",
        reference_a=source / "reference_A.npz", reference_b=source / "reference_B.npz",
        meta=source / "fixtures_meta.json")

