"""The training loop (spec 11) as an object the CLI and the app's worker both drive.

    trainer = Trainer.start(curriculum, dataset_factory, run_dir, settings)   # or Trainer.resume(...)
    trainer.run(max_steps, callback)     # callback(metrics dict) after every step
    trainer.request_stop()               # from any thread: stops between steps, saves, returns

Files written (rank 0 only) follow the layout of `models/train/runfolder.py`. All ranks of a
distributed run call the same methods in the same order (saving gathers every rank's RNG state).
"""
from __future__ import annotations

import copy
import hashlib
import random
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from models.field.config import GeneratorConfig
from models.field.generator import Generator
from models.io.errors import CheckpointError
from models.train.curriculum import Curriculum
from models.train.data import BatchStream, DatasetFactory
from models.train.discriminator import CCSDoubleEncoderDiscriminator
from models.train.distributed import DistInfo, any_rank, gather_objects
from models.train.ema import ExponentialMovingAverage
from models.train.preview import fixed_latents, preview_grid
from models.render.options import RenderOptions
from models.train.runfolder import RunFolder
from models.train.state import capture_rng, find_checkpoint, load_checkpoint, restore_rng, snapshot, write_checkpoint
from models.train.step import (Nets, TrainingForward, apply_learning_rates, generator_param_groups, plan_step,
                               train_iteration)

Callback = Callable[[dict], None]
MODEL_FILE = "model.fenerf"


@dataclass(frozen=True)
class TrainSettings:
    """How to run (not what to learn): device, intervals, workers, seeds."""

    seed: int = 0
    device: str = "cpu"
    num_workers: int = 0
    checkpoint_every: int = 500
    keep_every: int = 0              # also keep checkpoints/step_<n> every this many steps (0: never)
    preview_every: int = 500
    log_every: int = 10
    preview_size: int = 64
    preview_count: int = 4
    amp: bool = True                 # mixed precision; only ever used on CUDA
    chunk_points: int = 65536        # points per network call inside the training renderer
    export_model: bool = True        # write model.fenerf (EMA weights) into every checkpoint

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainSettings":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _discriminator(cur: Curriculum, cfg: GeneratorConfig, channels: int) -> CCSDoubleEncoderDiscriminator:
    return CCSDoubleEncoderDiscriminator(channels, cfg.z_geo_dim, cfg.z_app_dim, cur.discriminator_widths)


def _adam(params, cur: Curriculum) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=0.0, betas=tuple(cur.betas), weight_decay=cur.weight_decay)


class Trainer:
    """Networks, optimisers, data stream and run folder of one training run."""

    def __init__(self, curriculum: Curriculum, gen_cfg: GeneratorConfig, dataset_factory: DatasetFactory,
                 run_dir: str | Path, settings: TrainSettings, info: DistInfo = DistInfo(),
                 initial_weights: dict | None = None, max_steps: int | None = None, extra_config: dict | None = None):
        self.cur, self.gen_cfg, self.settings, self.info = curriculum, gen_cfg, settings, info
        self.folder = RunFolder(run_dir)
        self.device = torch.device(settings.device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", info.local_rank)
        self.amp = settings.amp and self.device.type == "cuda"
        self.max_steps = min(max_steps or curriculum.end_step, curriculum.end_step)
        self.extra_config = extra_config or {}
        self.step_count = 0
        self._saved_step: int | None = None
        self._preview_step: int | None = None
        self._stop = threading.Event()
        self._window: list[dict] = []
        self._step_time_avg: float | None = None
        self.stream = BatchStream(dataset_factory, info, settings.seed, settings.num_workers, self.device)
        self.stream.check(curriculum.stages[0].img_size, max(s.batch_size for s in curriculum.stages))
        torch.manual_seed(settings.seed)
        self.nets = self._build(initial_weights)
        self._seed_rank(settings.seed + info.rank)
        self.preview_z = fixed_latents(settings.preview_count, gen_cfg.z_geo_dim, gen_cfg.z_app_dim, settings.seed)

    # -- construction ---------------------------------------------------------------------
    def _build(self, initial_weights: dict | None) -> Nets:
        cur, cfg = self.cur, self.gen_cfg
        generator = Generator(cfg)
        if initial_weights is None:
            generator.siren.init_official()
        else:
            generator.load_state_dict(initial_weights)
        generator.to(self.device).train()
        self._ema_generator = copy.deepcopy(generator).requires_grad_(False).eval()
        d_img = _discriminator(cur, cfg, 3).to(self.device)
        d_seg = _discriminator(cur, cfg, cfg.num_labels + 3).to(self.device)
        g_train: torch.nn.Module = TrainingForward(generator)
        d_img_w, d_seg_w = d_img, d_seg
        if self.info.enabled:          # DDP broadcasts rank 0's weights: build the averages after this
            ids = [self.device.index] if self.device.type == "cuda" else None
            g_train = DDP(g_train, device_ids=ids)               # every generator weight gets a gradient
            d_img_w = DDP(d_img, device_ids=ids, find_unused_parameters=True)   # inactive adapters/blocks
            d_seg_w = DDP(d_seg, device_ids=ids, find_unused_parameters=True)
        params = list(generator.parameters())
        return Nets(
            generator, g_train, d_img, d_seg, d_img_w, d_seg_w,
            _adam(generator_param_groups(generator, cur.mapping_lr_scale), cur),
            _adam(d_img.parameters(), cur), _adam(d_seg.parameters(), cur),
            torch.amp.GradScaler(self.device.type, enabled=self.amp),
            ExponentialMovingAverage(params, cur.ema_decays[0]), ExponentialMovingAverage(params, cur.ema_decays[1]))

    @staticmethod
    def _seed_rank(seed: int) -> None:
        torch.manual_seed(seed)
        np.random.seed(seed % 2 ** 32)
        random.seed(seed)

    @classmethod
    def start(cls, curriculum: Curriculum, dataset_factory: DatasetFactory, run_dir: str | Path,
              settings: TrainSettings, info: DistInfo = DistInfo(), init_model: str | Path | None = None,
              max_steps: int | None = None, extra_config: dict | None = None) -> "Trainer":
        """A new run in an empty (or new) folder; `init_model` starts from a model's weights
        (its sizes replace the curriculum's generator config)."""
        run = RunFolder(run_dir)
        if run.has_training():
            raise FileExistsError(f"{run.root}: already holds a training run; resume it or choose another folder")
        weights, cfg = None, curriculum.generator
        if init_model is not None:
            from models.io.model import load_model
            loaded = load_model(init_model)
            weights, cfg = loaded.generator.state_dict(), loaded.generator.cfg
        if cfg is None:
            raise ValueError(f"curriculum {curriculum.name} has no generator sizes: give a model to fine-tune")
        trainer = cls(curriculum, cfg, dataset_factory, run_dir, settings, info, weights, max_steps,
                      dict(extra_config or {}, init_model=None if init_model is None else str(init_model)))
        if info.is_main:
            run.write_config(trainer.config())
            run.write_status("starting", 0, trainer.max_steps)
        return trainer

    @classmethod
    def resume(cls, run_dir: str | Path, dataset_factory: DatasetFactory, settings: TrainSettings | None = None,
               info: DistInfo = DistInfo(), max_steps: int | None = None) -> "Trainer":
        """Continue the run in `run_dir` from its last complete checkpoint (same curriculum)."""
        run = RunFolder(run_dir)
        config = run.read_config()
        folder = find_checkpoint(run.latest)
        if folder is None:
            raise CheckpointError(run.latest, "no complete checkpoint to resume from")
        curriculum = Curriculum.from_dict(config["curriculum"], f"{run.config}")
        cfg = GeneratorConfig.from_dict(config["generator"])
        settings = settings or TrainSettings.from_dict(config["settings"])
        trainer = cls(curriculum, cfg, dataset_factory, run_dir, settings, info,
                      max_steps=max_steps or config.get("max_steps"), extra_config=config.get("extra", {}))
        trainer.load_state(load_checkpoint(folder), folder)   # on the CPU: RNG states must stay there
        if info.is_main:
            run.drop_metrics_after(trainer.step_count)
            run.write_config(trainer.config())
        return trainer

    def config(self) -> dict:
        return {"curriculum": self.cur.to_dict(), "generator": self.gen_cfg.to_dict(),
                "settings": self.settings.to_dict(), "max_steps": self.max_steps, "world_size": self.info.world_size,
                "extra": self.extra_config}

    # -- state ----------------------------------------------------------------------------
    def state_payload(self) -> dict:
        """Everything a resume needs (collective: gathers every rank's RNG and data position)."""
        n = self.nets
        per_rank = gather_objects({"rng": capture_rng(), "data": self.stream.state(),
                                   "params_sha256": self.params_digest()}, self.info)
        return {"step": self.step_count, "generator": n.generator.state_dict(), "ema": n.ema.state_dict(),
                "ema2": n.ema2.state_dict(), "d_img": n.d_img_raw.state_dict(), "d_seg": n.d_seg_raw.state_dict(),
                "opt_g": n.opt_g.state_dict(), "opt_d_img": n.opt_d_img.state_dict(),
                "opt_d_seg": n.opt_d_seg.state_dict(), "scaler": n.scaler.state_dict(),
                "ranks": per_rank, "world_size": self.info.world_size, "generator_config": self.gen_cfg.to_dict()}

    def load_state(self, payload: dict, origin: Path) -> None:
        """Restore a `state_payload()`; CheckpointError if it does not fit this run."""
        n = self.nets
        try:
            if payload["generator_config"] != self.gen_cfg.to_dict():
                raise ValueError("generator sizes differ from the run's config.json")
            n.generator.load_state_dict(payload["generator"])
            n.d_img_raw.load_state_dict(payload["d_img"])
            n.d_seg_raw.load_state_dict(payload["d_seg"])
            n.ema.load_state_dict(payload["ema"])
            n.ema2.load_state_dict(payload["ema2"])
            n.opt_g.load_state_dict(payload["opt_g"])
            n.opt_d_img.load_state_dict(payload["opt_d_img"])
            n.opt_d_seg.load_state_dict(payload["opt_d_seg"])
            if n.scaler.is_enabled() and payload["scaler"]:
                n.scaler.load_state_dict(payload["scaler"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(origin, f"does not fit this run: {exc}") from None
        self.step_count = int(payload["step"])
        ranks = payload["ranks"]
        mine = ranks[self.info.rank] if payload["world_size"] == self.info.world_size else None
        if mine is not None:
            restore_rng(mine["rng"])
            self.stream.load_state(mine["data"])
        else:                       # another process count: fresh per-rank seeds and a new data epoch
            self._seed_rank(self.settings.seed + self.info.rank + self.step_count)
            self.stream.load_state({**ranks[0]["data"], "consumed": 0, "epoch": ranks[0]["data"]["epoch"] + 1})
        self._saved_step = self.step_count

    def params_digest(self) -> str:
        """sha256 of the generator's and both discriminators' weights (replicas must agree)."""
        digest = hashlib.sha256()
        for module in (self.nets.generator, self.nets.d_img_raw, self.nets.d_seg_raw):
            for p in module.parameters():
                digest.update(p.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def ema_generator(self) -> Generator:
        """A generator holding the EMA (decay `ema_decays[0]`) weights, for previews and export."""
        self.nets.ema.copy_to(self._ema_generator.parameters())
        self._ema_generator.forget_average()
        return self._ema_generator

    def save_checkpoint(self) -> None:
        """Write checkpoints/latest (and a kept copy when due). Collective; rank 0 writes."""
        payload = self.state_payload()
        self._saved_step = self.step_count
        if not self.info.is_main:
            return
        extras = {MODEL_FILE: self._export_model} if self.settings.export_model else {}
        write_checkpoint(self.folder.latest, payload, extras)
        keep = self.settings.keep_every
        if keep and self.step_count % keep == 0:
            snapshot(self.folder.latest, self.folder.snapshot_dir(self.step_count))

    def _export_model(self, path: Path) -> None:
        from models.intake.framing import framing_by_name
        from models.io.model import save_model
        stage = self.cur.stage_at(self.step_count)
        render_defaults = {"fov": self.cur.fov, "ray_start": self.cur.ray_start, "ray_end": self.cur.ray_end,
                           "num_steps": 2 * stage.num_steps, "psi": 0.7, "img_size": max(64, 2 * stage.img_size)}
        provenance = {"trainer": "fenerf train", "curriculum": self.cur.name, "step": self.step_count,
                      "ema_decay": self.nets.ema.decay}
        framing = self.extra_config.get("framing") or framing_by_name(self.cur.framing).to_dict()
        save_model(path, self.ema_generator(), render_defaults, framing, provenance)

    def write_preview(self) -> Path | None:
        """Render the fixed-latent preview grid with the EMA weights (rank 0)."""
        self._preview_step = self.step_count
        if not self.info.is_main:
            return None
        stage = self.cur.stage_at(self.step_count)
        opts = RenderOptions(img_size=self.settings.preview_size, fov=self.cur.fov, ray_start=self.cur.ray_start,
                             ray_end=self.cur.ray_end, num_steps=stage.num_steps,
                             hierarchical=self.cur.hierarchical_sample, clamp_mode=self.cur.clamp_mode)
        grid = preview_grid(self.ema_generator(), *self.preview_z, opts, self.cur.preview_psi)
        return self.folder.save_preview(self.step_count, grid)

    # -- the loop -------------------------------------------------------------------------
    def step(self) -> dict:
        """One iteration (spec 11.3) at the current step; returns its metrics."""
        started = time.perf_counter()
        plan = plan_step(self.cur, self.step_count, self.settings.chunk_points, self.amp)
        apply_learning_rates(self.nets, plan.stage, self.cur)
        self.stream.configure(plan.stage.img_size, plan.stage.batch_size)
        real_img, real_labels = self.stream.next()
        losses = train_iteration(self.nets, plan, self.cur, real_img, real_labels)
        self.step_count += 1
        elapsed = time.perf_counter() - started
        images = plan.stage.batch_size * self.info.world_size
        return {"step": self.step_count, "stage": self.cur.stage_index(plan.step), "img_size": plan.stage.img_size,
                "batch_size": plan.stage.batch_size, "alpha": plan.alpha, "topk": plan.topk, **losses,
                "step_time_s": elapsed, "images_per_s": images / elapsed, "time": time.time()}

    def request_stop(self) -> None:
        """Ask `run` to stop after the current step (thread-safe); it saves a checkpoint first."""
        self._stop.set()

    def run(self, max_steps: int | None = None, callback: Callback | None = None) -> str:
        """Train until `max_steps` (absolute step count; default: the run's) or a stop request.
        Returns "finished" or "stopped". Checkpoints, previews, metrics and status are written
        on their intervals and at the end."""
        target = min(max_steps or self.max_steps, self.max_steps)
        s = self.settings
        if self.info.is_main and not any(self.folder.previews.glob("*.png")):
            self.write_preview()
        self._status("running", target)
        try:
            while self.step_count < target:
                if any_rank(self._stop.is_set(), self.info, self.device):
                    break
                metrics = self.step()
                self._record(metrics, target)
                if callback is not None:
                    callback(metrics)
                n = self.step_count
                if n % s.checkpoint_every == 0 or (s.keep_every and n % s.keep_every == 0):
                    self.save_checkpoint()
                if n % s.preview_every == 0:
                    self.write_preview()
        except BaseException as exc:
            self._status("failed", target, f"{type(exc).__name__}: {exc}")
            raise
        if self._saved_step != self.step_count:
            self.save_checkpoint()
        if self._preview_step != self.step_count:
            self.write_preview()
        state = "finished" if self.step_count >= target else "stopped"
        self._status(state, target)
        return state

    def _record(self, metrics: dict, target: int) -> None:
        last = metrics["step_time_s"]
        self._step_time_avg = last if self._step_time_avg is None else 0.9 * self._step_time_avg + 0.1 * last
        self._window.append(metrics)
        if self.step_count % self.settings.log_every and self.step_count < target:
            return
        window, self._window = self._window, []
        record = dict(metrics)
        for key in ("d_img", "d_seg", "g_img", "g_seg", "r1", "r1_seg", "step_time_s"):
            record[key] = float(np.mean([m[key] for m in window]))
        record["images_per_s"] = record["batch_size"] * self.info.world_size / record["step_time_s"]
        if self.info.is_main:
            self.folder.append_metrics(record)
        self._status("running", target)

    def _status(self, state: str, target: int, message: str = "") -> None:
        if not self.info.is_main:
            return
        eta = None if self._step_time_avg is None else self._step_time_avg * max(0, target - self.step_count)
        speed = None if self._step_time_avg is None else \
            self.cur.stage_at(self.step_count).batch_size * self.info.world_size / self._step_time_avg
        self.folder.write_status(state, self.step_count, target, eta, speed, message)
