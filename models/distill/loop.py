"""The distillation loop: supervise the field at 3D points and, every few steps, its volume renders.

Per step: B heads from random (z_geo, z_app); points near their surfaces, in the box and (taught empty) in
the whole cube a render reaches; losses on
raw density, label logits and colour against `field_targets`; every `image_every` steps a small
differentiable render (official training forward, training pose distribution) is compared with the
sphere-traced procedural image and mask. Adam, cosine decay, gradient clipping, EMA weights.
Resumable: `RUN/state.pt` holds weights, EMA, optimiser, RNG states and the step (atomic writes).
"""
from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from models.bake.volume import DEFAULT_EXTENT
from models.data.head_field import sample_training_points
from models.data.head_params import HeadParams
from models.data.head_render import render_heads
from models.distill.targets import DENSITY_AMPLITUDE, field_targets
from models.field.config import GeneratorConfig
from models.field.generator import Generator
from models.io.atomic import atomic_path, atomic_write_text
from models.io.images import save_image
from models.io.model import save_model
from models.labels import ID, colorize
from models.render.camera import camera_origin, normalize, sample_poses
from models.render.options import RenderOptions
from models.render.renderer import render, render_training

DEMO_CONFIG = GeneratorConfig(grid=True, hidden_dim=64, geo_layers=6, app_layers=2, mapping_hidden=128,
                              mapping_depth=3, label_layers=2, grid_channels=8, grid_resolution=32)
# 18-channel indices (id - 1) of the small parts that uniform surface sampling rarely hits.
DETAIL_CHANNELS = [ID[name] - 1 for name in ("nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
                                            "mouth", "u_lip", "l_lip", "ear_r", "neck_l")]
POSE = {"h_mean": math.pi / 2, "v_mean": math.pi / 2, "h_stddev": 0.3, "v_stddev": 0.155}


@dataclass
class DistillSettings:
    steps: int = 12000
    batch: int = 8
    points: int = 2048
    image_size: int = 24
    image_batch: int = 2
    image_every: int = 2
    image_steps: int = 12
    lr: float = 3e-4
    mapping_lr_scale: float = 0.25
    detail_weight: float = 8.0        # label/colour loss weight of small parts (eyes, brows, nose, lips, ...)
    outer_fraction: float = 0.1       # share of points uniform in the whole cube a render reaches (taught: empty)
    ema_decay: float = 0.999
    seed: int = 0
    checkpoint_every: int = 250
    export_every: int = 1000
    preview_every: int = 500
    generator: dict = field(default_factory=DEMO_CONFIG.to_dict)


class Distiller:
    """Owns the generator, its EMA copy, the optimiser and the run folder."""

    def __init__(self, out: str | Path, settings: DistillSettings | None = None, resume: bool = False,
                 init: str | Path | None = None):
        """A new run in `out` (from scratch, or from the weights of the model file `init`), or, with
        resume, the run saved there."""
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        state_path = self.out / "state.pt"
        if resume and state_path.exists():
            state = torch.load(state_path, weights_only=True)
            self.settings = DistillSettings(**json.loads(state["settings"]))
        else:
            if resume:
                print(f"no checkpoint in {self.out}; starting a new run")
            state = None
            self.settings = settings or DistillSettings()
        if init is not None and state is None:
            from models.io.model import load_model
            start = load_model(init).generator
            self.settings.generator = start.cfg.to_dict()
        s = self.settings
        torch.manual_seed(s.seed)
        self.generator = Generator(GeneratorConfig.from_dict(s.generator))
        if init is not None and state is None:
            self.generator.load_state_dict(start.state_dict())
        else:
            self.generator.siren.init_official()
            density_head = self.generator.siren.final_layer
            with torch.no_grad():     # train the density head in units of DENSITY_AMPLITUDE (see _learning_rates)
                density_head.weight *= DENSITY_AMPLITUDE
                density_head.bias *= DENSITY_AMPLITUDE
        self.ema = copy.deepcopy(self.generator).requires_grad_(False)
        groups = {"field": [], "mapping": [], "density": []}
        for name, param in self.generator.named_parameters():
            groups["mapping" if "mapping_network" in name else "density" if "final_layer" in name else "field"].append(param)
        self.optimizer = torch.optim.Adam([{"params": groups[g], "name": g} for g in groups])
        self.rng = torch.Generator().manual_seed(s.seed + 1)
        self.step_count = 0
        if state is not None:
            self.generator.load_state_dict(state["generator"])
            self.ema.load_state_dict(state["ema"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.rng.set_state(state["rng"])
            torch.set_rng_state(state["torch_rng"])
            self.step_count = int(state["step"])
        atomic_write_text(self.out / "settings.json", json.dumps(asdict(s), indent=2))

    # -- one optimisation step -----------------------------------------------------------------
    def _learning_rates(self) -> None:
        s = self.settings
        factor = 0.5 * (1 + math.cos(math.pi * min(self.step_count / s.steps, 1.0)))
        factor = max(factor, 0.05)
        # Adam's steps do not scale with the gradient, so the density head, whose outputs are
        # DENSITY_AMPLITUDE times larger than the others', gets a proportionally larger rate.
        scale = {"field": 1.0, "mapping": s.mapping_lr_scale, "density": DENSITY_AMPLITUDE}
        for group in self.optimizer.param_groups:
            group["lr"] = s.lr * factor * scale[group["name"]]

    def _point_losses(self, params: HeadParams, z_geo, z_app) -> dict[str, torch.Tensor]:
        s = self.settings
        n_outer = int(round(s.points * s.outer_fraction))
        outer = (torch.rand((s.batch, n_outer, 3), generator=self.rng) * 2 - 1) * DEFAULT_EXTENT
        points = torch.cat([sample_training_points(params, s.points - n_outer, self.rng), outer], 1)
        targets = field_targets(points, params)
        yaw, pitch = sample_poses(s.batch, "gaussian", **_pose_args())
        dirs = normalize(points - camera_origin(yaw, pitch)[:, None])
        out = self.generator(points, dirs, self.generator.map_latents(z_geo, z_app))
        small = (targets.labels[..., DETAIL_CHANNELS].sum(-1, keepdim=True) > 0).float()
        near = targets.near.unsqueeze(-1).float() * (1 + (s.detail_weight - 1) * small)
        weight = near.sum().clamp_min(1.0)
        return {
            "density": (((out[..., -1] - targets.density) / DENSITY_AMPLITUDE) ** 2).mean(),
            "labels": (((out[..., :18] - targets.labels) ** 2) * near).sum() / (weight * 18),
            "rgb": (((out[..., 18:21] - targets.rgb) ** 2) * near).sum() / (weight * 3),
        }

    def _image_losses(self, z_geo, z_app) -> dict[str, torch.Tensor]:
        s = self.settings
        z_geo, z_app = z_geo[:s.image_batch], z_app[:s.image_batch]
        opts = RenderOptions(img_size=s.image_size, num_steps=s.image_steps)
        image, poses = render_training(self.generator, self.generator.map_latents(z_geo, z_app), opts, **_pose_args(),
                                       sample_dist="gaussian")
        rgb, mask = render_heads(HeadParams.from_latents(z_geo, z_app), poses[:, 1], poses[:, 0], s.image_size)
        labels = torch.nn.functional.one_hot(mask.long(), 19)[..., 1:].permute(0, 3, 1, 2).float() * 2 - 1
        return {"image_rgb": ((image[:, 18:] - (rgb * 2 - 1)) ** 2).mean(),
                "image_labels": ((image[:, :18] - labels) ** 2).mean()}

    def step(self) -> dict[str, float]:
        s = self.settings
        self._learning_rates()
        z_geo = torch.randn(s.batch, self.generator.cfg.z_geo_dim, generator=self.rng)
        z_app = torch.randn(s.batch, self.generator.cfg.z_app_dim, generator=self.rng)
        params = HeadParams.from_latents(z_geo, z_app)
        losses = self._point_losses(params, z_geo, z_app)
        if s.image_every and self.step_count % s.image_every == 0:
            losses.update(self._image_losses(z_geo, z_app))
        total = losses["density"] + losses["labels"] + 2 * losses["rgb"] \
            + losses.get("image_rgb", 0) + 0.5 * losses.get("image_labels", 0)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(self.generator.parameters(), 1.0)
        self.optimizer.step()
        self._update_ema()
        self.step_count += 1
        return {k: float(v.detach()) for k, v in losses.items()} | {"total": float(total.detach())}

    @torch.no_grad()
    def _update_ema(self) -> None:
        n = self.step_count + 1
        decay = min(self.settings.ema_decay, (1 + n) / (10 + n))
        for e, p in zip(self.ema.parameters(), self.generator.parameters()):
            e.lerp_(p, 1 - decay)

    # -- run, checkpoints, exports ----------------------------------------------------------------
    def run(self, until: int | None = None, callback: Callable[[int, dict], bool] | None = None) -> None:
        """Train to step `until` (default: settings.steps); callback(step, losses) returning False stops."""
        until = until or self.settings.steps
        log = open(self.out / "metrics.jsonl", "a")
        try:
            while self.step_count < until:
                start = time.perf_counter()
                losses = self.step()
                record = {"step": self.step_count, "time": time.time(), "step_time_s": time.perf_counter() - start, **losses}
                log.write(json.dumps(record) + "\n")
                log.flush()
                s = self.settings
                if self.step_count % s.checkpoint_every == 0:
                    self.save_checkpoint()
                if self.step_count % s.export_every == 0:
                    self.export(self.out / "model.fenerf")
                if self.step_count % s.preview_every == 0:
                    self.preview(self.out / "previews" / f"{self.step_count:06d}.png")
                if callback is not None and callback(self.step_count, losses) is False:
                    break
        finally:
            log.close()
            self.save_checkpoint()

    def save_checkpoint(self) -> None:
        state = {"generator": self.generator.state_dict(), "ema": self.ema.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "rng": self.rng.get_state(),
                 "torch_rng": torch.get_rng_state(), "step": self.step_count,
                 "settings": json.dumps(asdict(self.settings))}
        with atomic_path(self.out / "state.pt") as tmp:
            torch.save(state, tmp)

    def export(self, path: str | Path, framing: dict | None = None) -> None:
        """Write the EMA generator as a `.fenerf` model."""
        from models.data.head_render import DEMO_FRAMING_LANDMARKS
        from models.intake.framing import Framing
        (rx, ry), (lx, ly), mouth = DEMO_FRAMING_LANDMARKS
        procedural = Framing.from_landmarks(eye_mid=((rx + lx) / 2, (ry + ly) / 2), mouth_mid=mouth,
                                            eye_dist=abs(lx - rx), name="procedural")
        self.ema.forget_average()
        save_model(path, self.ema, {"img_size": 128, "num_steps": 24, "fov": 12.0, "ray_start": 0.88,
                                    "ray_end": 1.12, "psi": 0.7},
                   framing if framing is not None else procedural.to_dict(),
                   {"made_by": "fenerf distill (3D supervision on procedural heads)", "step": self.step_count,
                    "settings": asdict(self.settings)})

    @torch.no_grad()
    def preview(self, path: str | Path, seeds: tuple[int, ...] = (0, 1, 2, 3)) -> None:
        """Rows per seed: EMA render image | mask, then the procedural target image | mask, two views."""
        from models.field.latents import latents_for_seed
        self.ema.forget_average()
        rows = []
        for seed in seeds:
            z_geo, z_app = latents_for_seed(seed, self.ema.cfg.z_geo_dim, self.ema.cfg.z_app_dim)
            codes = self.ema.map_latents(z_geo, z_app)
            tiles = []
            for yaw in (math.pi / 2, math.pi / 2 + 0.4):
                r = render(self.ema, codes, yaw, math.pi / 2, RenderOptions(img_size=64, num_steps=16))
                rgb, mask = render_heads(HeadParams.from_latents(z_geo, z_app), torch.tensor([yaw]),
                                         torch.tensor([math.pi / 2]), 64)
                tiles += [r.rgb_uint8(), r.mask_rgb(), (rgb[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8),
                          colorize(mask[0].numpy())]
            rows.append(np.concatenate(tiles, 1))
        save_image(path, np.concatenate(rows, 0))


def _pose_args() -> dict:
    return dict(POSE)
