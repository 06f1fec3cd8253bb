"""Atomic, validated training checkpoints (folders) and the RNG states that make resume exact.

A checkpoint is a folder holding `training.pt` (one `torch.save` dict of tensors and plain values,
loadable with `weights_only=True`), optional extra files (the exported model) and, written last,
`manifest.json` with the size and sha256 of every file. Saving writes everything into a hidden
temporary folder next to the target, fsyncs it, then swaps it in with renames:

    target -> target.previous ; tmp -> target ; delete target.previous

A kill at any moment leaves either the new folder or the previous one complete: `find_checkpoint`
returns `target` if it validates, else `target.previous`. Temporary folders of interrupted saves
are removed by the next save.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from models.io.errors import CheckpointError

STATE_FILE = "training.pt"
MANIFEST_FILE = "manifest.json"
FORMAT = "fenerf-studio-training"
VERSION = 1
BACKUP_SUFFIX = ".previous"
TEST_DELAY_ENV = "FENERF_TEST_SAVE_DELAY"   # tests only: seconds to sleep before replacing a checkpoint

Writer = Callable[[Path], None]


def write_checkpoint(target: str | Path, payload: dict, extras: dict[str, Writer] | None = None) -> Path:
    """Atomically (re)place the checkpoint folder `target` with `payload` plus `extras`
    (file name -> writer(path)). The previous content of `target` stays valid until the new one is."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        torch.save(payload, tmp / STATE_FILE)
        for name, writer in (extras or {}).items():
            writer(tmp / name)
        files = sorted(p.name for p in tmp.iterdir())
        manifest = {"format": FORMAT, "version": VERSION, "step": int(payload.get("step", 0)),
                    "time": time.time(), "files": {name: _describe(tmp / name) for name in files}}
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1))
        for name in files + [MANIFEST_FILE]:
            _fsync_file(tmp / name)
        _fsync_dir(tmp)
        delay = float(os.environ.get(TEST_DELAY_ENV, "0") or 0)
        if delay > 0 and target.exists():       # tests: a window to kill while replacing a checkpoint
            time.sleep(delay)
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def snapshot(source: str | Path, target: str | Path) -> Path:
    """Keep a copy of the complete checkpoint `source` as `target` (hard links where possible;
    checkpoint files are never modified in place, so sharing them is safe)."""
    source, target = Path(source), Path(target)
    _remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        for item in source.iterdir():
            try:
                os.link(item, tmp / item.name)
            except OSError:
                shutil.copy2(item, tmp / item.name)
        _fsync_dir(tmp)
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def verify_checkpoint(folder: str | Path) -> dict:
    """The manifest of a complete checkpoint folder; CheckpointError if anything is missing,
    truncated or altered."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST_FILE
    if not folder.is_dir():
        raise CheckpointError(folder, "no such checkpoint folder")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(manifest_path, f"missing or unreadable manifest ({exc}); incomplete checkpoint") from None
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise CheckpointError(manifest_path, "not a FENeRF Studio training checkpoint manifest")
    if STATE_FILE not in manifest["files"]:
        raise CheckpointError(manifest_path, f"manifest does not list {STATE_FILE}")
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise CheckpointError(path, "listed in the manifest but missing")
        if _describe(path) != expected:
            raise CheckpointError(path, "size or checksum differs from the manifest (truncated or altered)")
    return manifest


def find_checkpoint(folder: str | Path) -> Path | None:
    """`folder` if it holds a complete checkpoint, else its `.previous` backup, else None."""
    folder = Path(folder)
    for candidate in (folder, folder.with_name(folder.name + BACKUP_SUFFIX)):
        try:
            verify_checkpoint(candidate)
            return candidate
        except CheckpointError:
            continue
    return None


def load_checkpoint(folder: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Verify and read `training.pt` of a checkpoint folder (weights_only: nothing executes)."""
    folder = Path(folder)
    verify_checkpoint(folder)
    try:
        payload = torch.load(folder / STATE_FILE, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt files
        raise CheckpointError(folder / STATE_FILE, f"cannot be read ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("step"), int):
        raise CheckpointError(folder / STATE_FILE, "does not hold a training state")
    return payload


# -- random number generator states ------------------------------------------------------
def capture_rng() -> dict:
    """The states of torch (CPU and CUDA), numpy and Python's random, as weights_only-safe values."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": {"version": version, "state": list(internal), "gauss_next": gauss_next},
    }


def restore_rng(state: dict) -> None:
    """Inverse of `capture_rng`."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss_next"]))


# -- helpers ------------------------------------------------------------------------------
def _describe(path: Path) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _swap_in(tmp: Path, target: Path) -> None:
    backup = target.with_name(target.name + BACKUP_SUFFIX)
    if target.exists():
        if backup.exists():
            shutil.rmtree(backup)       # older than target, which is complete
        os.replace(target, backup)
    os.replace(tmp, target)
    _fsync_dir(target.parent)
    shutil.rmtree(backup, ignore_errors=True)


def _remove_stale_temporaries(target: Path) -> None:
    if target.parent.is_dir():
        for stale in target.parent.glob(f".{target.name}.*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return      # platforms without directory handles (Windows)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
