"""`fenerf train` end to end in subprocesses: runs, resumes, survives SIGKILL during training and
during a checkpoint save."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from models.cli import main
from models.train.state import find_checkpoint, load_checkpoint
from tests.models.train.helpers import write_curricula, write_dataset

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def setup(tmp_path):
    return write_dataset(tmp_path / "data"), write_curricula(tmp_path / "curricula.toml"), tmp_path / "run"


def command(dataset, curricula, run, *extra) -> list[str]:
    return [sys.executable, "-m", "models.cli", "train", "--dataset", str(dataset), "--curriculum", "tiny",
            "--curricula", str(curricula), "--out", str(run), "--threads", "1", "--quiet", "--preview-size", "16",
            "--log-every", "1", *extra]


def resume_command(run, *extra) -> list[str]:
    return [sys.executable, "-m", "models.cli", "train", "--resume", "--out", str(run), "--threads", "1", "--quiet",
            *extra]


def launch(args: list[str], **env) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(args: list[str], **env) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def wait_for(condition, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def last_step(run: Path) -> int:
    lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").exists() else []
    return json.loads(lines[-1])["step"] if lines else 0


def test_kill_during_training_keeps_the_last_checkpoint_and_resume_continues(setup):
    dataset, curricula, run = setup
    proc = launch(command(dataset, curricula, run, "--checkpoint-every", "2", "--max-steps", "1000"))
    wait_for(lambda: last_step(run) >= 5, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    folder = find_checkpoint(run / "checkpoints" / "latest")
    step = load_checkpoint(folder)["step"]
    assert step >= 4 and step % 2 == 0
    assert json.loads((run / "status.json").read_text())["state"] == "running"   # it never got to say otherwise
    finish(resume_command(run, "--max-steps", str(step + 2)))
    assert load_checkpoint(run / "checkpoints" / "latest")["step"] == step + 2
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, step + 3))                                     # redone steps not duplicated


def test_kill_during_a_save_leaves_the_previous_checkpoint(setup):
    dataset, curricula, run = setup
    # the test hook sleeps inside every save that replaces a checkpoint, after writing the new one
    proc = launch(command(dataset, curricula, run, "--checkpoint-every", "2", "--max-steps", "6"),
                  FENERF_TEST_SAVE_DELAY="60")
    def pending() -> bool:
        return any((p / "manifest.json").exists() for p in (run / "checkpoints").glob(".latest.*.tmp"))

    wait_for(pending, proc)                          # step 4's save is complete on disk, not yet swapped in
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert load_checkpoint(find_checkpoint(run / "checkpoints" / "latest"))["step"] == 2
    finish(resume_command(run))
    assert load_checkpoint(run / "checkpoints" / "latest")["step"] == 6
    assert not list((run / "checkpoints").glob(".latest.*.tmp"))


def test_interrupt_finishes_the_step_saves_and_exits_cleanly(setup):
    dataset, curricula, run = setup
    proc = launch(command(dataset, curricula, run, "--checkpoint-every", "1000", "--max-steps", "1000"))
    wait_for(lambda: last_step(run) >= 2, proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, proc.communicate()[1]
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "stopped"
    assert load_checkpoint(run / "checkpoints" / "latest")["step"] == status["step"] == last_step(run)


def test_user_errors_are_one_line(setup, capsys):
    dataset, curricula, run = setup
    assert main(["train", "--dataset", str(dataset / "nope"), "--curriculum", "tiny", "--out", str(run)]) == 2
    assert "dataset folder not found" in capsys.readouterr().err
    assert main(["train", "--dataset", str(dataset), "--curriculum", "nope", "--curricula", str(curricula),
                 "--out", str(run)]) == 2
    assert "unknown curriculum 'nope'" in capsys.readouterr().err
    assert main(["train", "--resume", "--out", str(run)]) == 2
    assert "no training run here" in capsys.readouterr().err
    empty = dataset.parent / "empty"
    empty.mkdir()
    assert main(["train", "--dataset", str(empty), "--curriculum", "tiny", "--curricula", str(curricula),
                 "--out", str(run)]) == 2
    err = capsys.readouterr().err                             # the dataset module's own one-line reason
    assert err.startswith(f"fenerf train: error: {empty}") and err.count("\n") == 1
    assert not run.exists()                                   # nothing written for a run that cannot start
