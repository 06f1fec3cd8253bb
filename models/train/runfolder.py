"""The run folder a training writes, laid out so other programs (the app's training panel) can
follow it live. Only rank 0 writes. Every file except metrics.jsonl is replaced atomically.

    RUN/config.json            curriculum (full, as used), generator config, settings, dataset, args
    RUN/metrics.jsonl          one JSON object per logged step, appended and flushed:
                               {"step", "stage", "img_size", "batch_size", "alpha", "topk",
                                "d_img", "d_seg", "g_img", "g_seg", "r1", "r1_seg",
                                "step_time_s", "images_per_s", "time"}
                               losses are means over the steps since the previous record; a reader
                               must ignore a last line without a newline (being written). On resume,
                               records after the checkpoint's step are dropped.
    RUN/status.json            {"state": "starting"|"running"|"stopped"|"finished"|"failed",
                                "step", "max_steps", "eta_s", "images_per_s", "time", "message"}
    RUN/previews/<step, 8 digits>.png  grid: one row per fixed latent; columns = image and colour mask
                               from the front, then image and mask from yaw + 0.5 rad (EMA weights)
    RUN/previews/latest.png    the newest grid
    RUN/checkpoints/latest/    the resumable training state (models/train/state.py), with
                               model.fenerf: the EMA generator in the native model format
    RUN/checkpoints/step_<n>/  kept copies every `keep_every` steps (optional)
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from models.io.atomic import atomic_write_text
from models.io.images import save_image

STATES = ("starting", "running", "stopped", "finished", "failed")


class RunFolder:
    """Paths and writers of one run folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    config = property(lambda self: self.root / "config.json")
    metrics = property(lambda self: self.root / "metrics.jsonl")
    status = property(lambda self: self.root / "status.json")
    previews = property(lambda self: self.root / "previews")
    checkpoints = property(lambda self: self.root / "checkpoints")
    latest = property(lambda self: self.root / "checkpoints" / "latest")

    def snapshot_dir(self, step: int) -> Path:
        return self.checkpoints / f"step_{step}"

    def has_training(self) -> bool:
        """True when a run was already started here (config or checkpoints present)."""
        return self.config.exists() or self.checkpoints.exists()

    def write_config(self, config: dict) -> None:
        atomic_write_text(self.config, json.dumps(config, indent=2, sort_keys=True))

    def read_config(self) -> dict:
        try:
            return json.loads(self.config.read_text())
        except OSError:
            raise FileNotFoundError(f"{self.config}: no training run here (config.json missing)") from None
        except ValueError as exc:
            raise ValueError(f"{self.config}: not valid JSON ({exc})") from None

    def append_metrics(self, record: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.metrics, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()

    def read_metrics(self) -> list[dict]:
        """Complete records (a partially written last line is skipped)."""
        if not self.metrics.exists():
            return []
        records = []
        for line in self.metrics.read_text(encoding="utf-8").splitlines(keepends=True):
            if line.endswith("\n"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        return records

    def drop_metrics_after(self, step: int) -> None:
        """Forget records of steps a resumed run will redo."""
        if self.metrics.exists():
            kept = [r for r in self.read_metrics() if r.get("step", 0) <= step]
            atomic_write_text(self.metrics, "".join(json.dumps(r) + "\n" for r in kept))

    def write_status(self, state: str, step: int, max_steps: int, eta_s: float | None = None,
                     images_per_s: float | None = None, message: str = "") -> None:
        if state not in STATES:
            raise ValueError(f"unknown run state {state!r}")
        status = {"state": state, "step": step, "max_steps": max_steps, "eta_s": eta_s,
                  "images_per_s": images_per_s, "time": time.time(), "message": message}
        atomic_write_text(self.status, json.dumps(status))

    def read_status(self) -> dict | None:
        try:
            return json.loads(self.status.read_text())
        except (OSError, ValueError):
            return None

    def save_preview(self, step: int, grid: np.ndarray) -> Path:
        path = save_image(self.previews / f"{step:08d}.png", grid)
        save_image(self.previews / "latest.png", grid)
        return path
