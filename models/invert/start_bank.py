"""A bank of start candidates: fixed sample codes and their frontal masks, rendered once per model.

The masks depend on the model and the render settings only, never on the target, so they are
rendered once (in batches, with progress and cancel through the callback) and kept in memory and
in the user's cache folder (`$FENERF_CACHE`, else `$XDG_CACHE_HOME/fenerf`, else `~/.cache/fenerf`),
keyed by a digest of the generator's weights and the settings. The codes themselves are remade
from their seeds (a mapping-network pass), so only the masks are stored. A cache that cannot be
read is rebuilt; one that cannot be written is skipped.
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from models.field.codes import Codes
from models.field.generator import Generator
from models.field.latents import codes_for_seeds
from models.invert import losses
from models.io.atomic import atomic_write_bytes
from models.labels import merge_left_right
from models.render.options import RenderOptions
from models.render.renderer import render

BANK_SEED_BASE = 700_000      # far from the seeds users and tests pick
BANK_PSI = 0.7
BANK_SIZE = 64                # side of the stored masks: eyes and lips vanish at 32 px and ranking fails
BANK_BATCH = 16               # candidates per render call
FORMAT = 1                    # bump when the stored layout or the meaning of a key changes
MEMORY_BANKS = 4              # banks kept in memory (one per model and render setting in use)

Progress = Callable[[int, int], None]
_MEMORY: dict[str, "StartBank"] = {}


@dataclass
class StartBank:
    """Candidate codes (N, ...) with their frontal ID masks (N, BANK_SIZE, BANK_SIZE)."""

    seeds: list[int]
    codes: Codes
    masks: np.ndarray

    def ranked(self, ids: np.ndarray, merge_sides: bool = False) -> list[tuple[float, int]]:
        """(present-class mIoU against `ids` at BANK_SIZE, index), best first."""
        scores = []
        for k, mask in enumerate(self.masks):
            pred = merge_left_right(mask) if merge_sides else mask
            scores.append((losses.present_miou(pred, ids), k))
        return sorted(scores, key=lambda s: (-s[0], s[1]))


@torch.no_grad()
def start_bank(generator: Generator, count: int, options: RenderOptions,
               progress: Progress | None = None) -> StartBank:
    """The first `count` bank candidates of this generator, their masks rendered frontally with
    `options` at BANK_SIZE (from memory, the cache folder, or rendered now)."""
    seeds = [BANK_SEED_BASE + k for k in range(count)]
    codes = codes_for_seeds(generator, seeds, BANK_PSI)
    opts = options.replace(img_size=BANK_SIZE)
    key = _key(generator, count, opts)
    if key in _MEMORY:
        return _MEMORY[key]
    masks = _read(key, count)
    if masks is None:
        masks = _render_masks(generator, codes, opts, progress)
        _write(key, masks)
    bank = StartBank(seeds, codes.map(lambda t: t.cpu()), masks)
    while len(_MEMORY) >= MEMORY_BANKS:
        _MEMORY.pop(next(iter(_MEMORY)))
    _MEMORY[key] = bank
    return bank


def cache_dir() -> Path:
    """Where banks are kept between runs."""
    if os.environ.get("FENERF_CACHE"):
        return Path(os.environ["FENERF_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "fenerf"


def _render_masks(generator: Generator, codes: Codes, opts: RenderOptions, progress: Progress | None) -> np.ndarray:
    count = codes.geo_freq.shape[0]
    masks = []
    for first in range(0, count, BANK_BATCH):
        if progress is not None:
            progress(first, count)
        batch = codes.map(lambda t: t[first:first + BANK_BATCH])
        masks.append(render(generator, batch, math.pi / 2, math.pi / 2, opts).mask.cpu().numpy())
    if progress is not None:
        progress(count, count)
    return np.concatenate(masks).astype(np.uint8)


def _key(generator: Generator, count: int, opts: RenderOptions) -> str:
    """Digest of the weights, the candidate list and every render setting that shapes a mask."""
    digest = hashlib.sha256(f"{FORMAT}|{count}|{BANK_SEED_BASE}|{BANK_PSI}|{opts!r}".encode())
    for name, tensor in generator.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def _path(key: str) -> Path:
    return cache_dir() / "start-banks" / f"{key}.npz"


def _read(key: str, count: int) -> np.ndarray | None:
    try:
        with np.load(_path(key)) as stored:
            masks = stored["masks"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if masks.shape != (count, BANK_SIZE, BANK_SIZE) or masks.dtype != np.uint8:
        return None
    return masks


def _write(key: str, masks: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, masks=masks)
    try:
        _path(key).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(_path(key), buffer.getvalue())
    except OSError:
        pass                  # a read-only or full cache folder only costs the next run the renders
