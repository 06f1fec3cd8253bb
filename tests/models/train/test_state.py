"""Atomic training checkpoints: validation, fallback to the previous one, RNG capture."""
import json
import os
import random

import numpy as np
import pytest
import torch

from models.io.errors import CheckpointError
from models.train.state import (BACKUP_SUFFIX, capture_rng, find_checkpoint, load_checkpoint, restore_rng,
                                snapshot, verify_checkpoint, write_checkpoint)


def payload(step: int) -> dict:
    return {"step": step, "weights": {"w": torch.full((3,), float(step))}, "note": "x"}


def test_write_replace_and_load(tmp_path):
    target = tmp_path / "checkpoints" / "latest"
    write_checkpoint(target, payload(1), {"extra.txt": lambda p: p.write_text("one")})
    write_checkpoint(target, payload(2))
    loaded = load_checkpoint(target)
    assert loaded["step"] == 2 and torch.equal(loaded["weights"]["w"], torch.full((3,), 2.0))
    assert not (target / "extra.txt").exists()               # a save replaces the whole folder
    assert sorted(p.name for p in target.parent.iterdir()) == ["latest"]
    assert verify_checkpoint(target)["step"] == 2


def test_truncated_or_incomplete_checkpoints_are_refused(tmp_path):
    target = write_checkpoint(tmp_path / "latest", payload(3))
    state = target / "training.pt"
    state.write_bytes(state.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="training.pt: size or checksum differs"):
        load_checkpoint(target)
    (target / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match="incomplete checkpoint"):
        verify_checkpoint(target)
    assert find_checkpoint(target) is None


def test_a_kill_between_the_renames_falls_back_to_the_previous_folder(tmp_path):
    target = write_checkpoint(tmp_path / "latest", payload(4))
    backup = target.with_name(target.name + BACKUP_SUFFIX)
    os.replace(target, backup)                                 # state right after the first rename
    assert find_checkpoint(target) == backup
    assert load_checkpoint(find_checkpoint(target))["step"] == 4
    write_checkpoint(target, payload(5))                       # the next save completes normally
    assert find_checkpoint(target) == target and not backup.exists()


def test_interrupted_saves_leave_the_previous_checkpoint_and_are_cleaned(tmp_path):
    target = write_checkpoint(tmp_path / "latest", payload(6))

    def crash(path):
        path.write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_checkpoint(target, payload(7), {"model.bin": crash})
    assert load_checkpoint(target)["step"] == 6
    stale = tmp_path / ".latest.abc.tmp"                       # what a SIGKILL mid-save leaves
    stale.mkdir()
    (stale / "training.pt").write_bytes(b"junk")
    write_checkpoint(target, payload(8))
    assert not stale.exists() and load_checkpoint(target)["step"] == 8


def test_snapshot_is_a_complete_copy(tmp_path):
    target = write_checkpoint(tmp_path / "latest", payload(9))
    kept = snapshot(target, tmp_path / "step_9")
    write_checkpoint(target, payload(10))
    assert load_checkpoint(kept)["step"] == 9 and load_checkpoint(target)["step"] == 10


def test_manifest_of_another_kind_is_refused(tmp_path):
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"format": "other", "files": {}}))
    with pytest.raises(CheckpointError, match="not a FENeRF Studio training checkpoint"):
        verify_checkpoint(folder)


def test_rng_states_round_trip_through_a_checkpoint(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.randn()                                          # leaves a cached gaussian in numpy
    write_checkpoint(tmp_path / "latest", {"step": 0, "rng": capture_rng()})
    expected = (torch.rand(4), np.random.randn(4), random.random())
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    restore_rng(load_checkpoint(tmp_path / "latest")["rng"])
    got = (torch.rand(4), np.random.randn(4), random.random())
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1]) and got[2] == expected[2]
