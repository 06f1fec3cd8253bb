"""`torchrun -m models.train` with 2 CPU processes (gloo): the replicas end with identical weights."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models.train.state import load_checkpoint
from tests.models.train.helpers import write_curricula, write_dataset

ROOT = Path(__file__).resolve().parents[3]


def test_two_processes_train_identical_replicas(tmp_path):
    dataset, curricula, run = write_dataset(tmp_path / "data"), write_curricula(tmp_path / "c.toml"), tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "models.train", "--dataset", str(dataset), "--curriculum", "tiny", "--curricula", str(curricula),
           "--out", str(run), "--max-steps", "3", "--checkpoint-every", "3", "--preview-size", "16", "--quiet",
           "--device", "cpu"]
    done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    state = load_checkpoint(run / "checkpoints" / "latest")
    assert state["step"] == 3 and state["world_size"] == 2
    rank0, rank1 = state["ranks"]
    assert not torch.equal(rank0["rng"]["torch"], rank1["rng"]["torch"])     # each rank drew its own latents
    assert rank0["params_sha256"] == rank1["params_sha256"]                   # yet the weights agree exactly
    digest = hashlib.sha256()
    for key in ("generator", "d_img", "d_seg"):
        for tensor in state[key].values():
            digest.update(tensor.contiguous().numpy().tobytes())
    assert digest.hexdigest() == rank0["params_sha256"]                       # and they are the saved ones
