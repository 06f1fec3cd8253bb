"""One training iteration (spec 11.3): image-discriminator step, semantic-discriminator step,
generator step with top-k, then the two EMA updates.

Everything here works on a `Nets` bundle whose `g_train`, `d_img` and `d_seg` may be
DistributedDataParallel wrappers; the plain modules are used where no gradient must be
synchronised (fake renders for the discriminator steps, discriminator scoring in the generator step).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from models.field.generator import Generator
from models.render.options import RenderOptions
from models.render.renderer import render_training
from models.train.curriculum import Curriculum, Stage
from models.train.discriminator import CCSDoubleEncoderDiscriminator
from models.train.ema import ExponentialMovingAverage
from models.train.losses import discriminator_loss, generator_loss, pose_penalty, r1_penalty


class TrainingForward(nn.Module):
    """latents -> (21-channel image, poses) through the differentiable renderer; the module that
    DistributedDataParallel wraps for the generator."""

    def __init__(self, generator: Generator):
        super().__init__()
        self.generator = generator

    def forward(self, z_geo: torch.Tensor, z_app: torch.Tensor, opts: RenderOptions, camera: dict
                ) -> tuple[torch.Tensor, torch.Tensor]:
        codes = self.generator.map_latents(z_geo, z_app)
        return render_training(self.generator, codes, opts, **camera)


@dataclass
class Nets:
    """Networks, optimisers, scaler and averages of one training run."""

    generator: Generator
    g_train: nn.Module                 # TrainingForward, possibly DDP-wrapped
    d_img_raw: CCSDoubleEncoderDiscriminator
    d_seg_raw: CCSDoubleEncoderDiscriminator
    d_img: nn.Module                   # possibly DDP-wrapped
    d_seg: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d_img: torch.optim.Optimizer
    opt_d_seg: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    ema: ExponentialMovingAverage
    ema2: ExponentialMovingAverage


@dataclass(frozen=True)
class StepPlan:
    """What the schedules say for the current step."""

    step: int
    stage: Stage
    alpha: float
    topk: int
    opts: RenderOptions
    camera: dict
    amp: bool


def plan_step(curriculum: Curriculum, step: int, chunk_points: int, amp: bool) -> StepPlan:
    stage = curriculum.stage_at(step)
    opts = RenderOptions(img_size=stage.img_size, fov=curriculum.fov, ray_start=curriculum.ray_start,
                         ray_end=curriculum.ray_end, num_steps=stage.num_steps,
                         hierarchical=curriculum.hierarchical_sample, clamp_mode=curriculum.clamp_mode,
                         nerf_noise=curriculum.nerf_noise(step), fill_mode=None, mode="official",
                         chunk_points=chunk_points)
    camera = {"h_mean": curriculum.h_mean, "v_mean": curriculum.v_mean, "h_stddev": curriculum.h_stddev,
              "v_stddev": curriculum.v_stddev, "sample_dist": curriculum.sample_dist}
    return StepPlan(step, stage, curriculum.alpha(step), curriculum.topk_count(step, stage.chunk),
                    opts, camera, amp)


def sample_latents(batch: int, generator: Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Standard-normal z_geo then z_app from the global RNG (official order)."""
    device = generator.device
    return (torch.randn((batch, generator.cfg.z_geo_dim), device=device),
            torch.randn((batch, generator.cfg.z_app_dim), device=device))


def _autocast(plan: StepPlan):
    return torch.autocast("cuda", dtype=torch.float16) if plan.amp else contextlib.nullcontext()


@torch.no_grad()
def _render_fakes(nets: Nets, plan: StepPlan, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    z_geo, z_app = sample_latents(batch, nets.generator)
    images, poses = [], []
    m = plan.stage.chunk
    with _autocast(plan):
        for start in range(0, batch, m):
            codes = nets.generator.map_latents(z_geo[start:start + m], z_app[start:start + m])
            image, pose = render_training(nets.generator, codes, plan.opts, **plan.camera)
            images.append(image)
            poses.append(pose)
    return torch.cat(images).float(), torch.cat(poses).float()


def _discriminator_update(d: nn.Module, opt: torch.optim.Optimizer, nets: Nets, plan: StepPlan,
                          cur: Curriculum, real: torch.Tensor, fake: torch.Tensor, fake_pose: torch.Tensor
                          ) -> tuple[float, float]:
    """One discriminator step on real vs fake inputs; returns (loss, R1 term). Reals and fakes are
    scored in separate calls, as official: R1 then differentiates through the reals' pass only."""
    real = real.detach().requires_grad_(cur.r1_lambda > 0)
    with _autocast(plan):
        real_logits = d(real, plan.alpha)[0]
    r1 = torch.zeros((), device=real.device)
    if cur.r1_lambda > 0:
        scale = float(nets.scaler.get_scale()) if nets.scaler.is_enabled() else 1.0
        r1 = r1_penalty(real_logits.float(), real, cur.r1_lambda, scale)
    with _autocast(plan):
        fake_logits, _, _, pose_hat = d(fake, plan.alpha)
        loss = discriminator_loss(fake_logits, real_logits) + r1 + pose_penalty(pose_hat, fake_pose, cur.pos_lambda)
    opt.zero_grad(set_to_none=True)
    nets.scaler.scale(loss).backward()
    nets.scaler.unscale_(opt)
    torch.nn.utils.clip_grad_norm_(d.parameters(), cur.grad_clip)
    nets.scaler.step(opt)
    return float(loss.detach()), float(r1.detach())


def _generator_update(nets: Nets, plan: StepPlan, cur: Curriculum, batch: int) -> tuple[float, float]:
    """Generator step: per-chunk backward (gradients accumulate), then clip, step, scaler update."""
    z_geo, z_app = sample_latents(batch, nets.generator)
    params = list(nets.generator.parameters())
    labels_n = nets.generator.cfg.num_labels
    m = plan.stage.chunk
    starts = list(range(0, batch, m))
    nets.opt_g.zero_grad(set_to_none=True)
    total_img = total_seg = 0.0
    for i, start in enumerate(starts):
        last = i == len(starts) - 1
        sync = nets.g_train.no_sync() if hasattr(nets.g_train, "no_sync") and not last else contextlib.nullcontext()
        with sync:
            with _autocast(plan):
                image, pose = nets.g_train(z_geo[start:start + m], z_app[start:start + m], plan.opts, plan.camera)
                labels, rgb = image[:, :labels_n], image[:, labels_n:]
                g, _, _, pose_hat = nets.d_img_raw(rgb, plan.alpha)
                g_s, _, _, pose_hat_s = nets.d_seg_raw(torch.cat([labels, rgb.detach()], 1), plan.alpha)
                loss_img = generator_loss(g, plan.topk) + pose_penalty(pose_hat, pose, cur.pos_lambda)
                loss_seg = cur.g_seg_loss_lambda * (generator_loss(g_s, plan.topk)
                                                    + pose_penalty(pose_hat_s, pose, cur.pos_lambda))
            nets.scaler.scale(loss_img + loss_seg).backward(inputs=params)
        total_img += float(loss_img.detach())
        total_seg += float(loss_seg.detach())
    nets.scaler.unscale_(nets.opt_g)
    torch.nn.utils.clip_grad_norm_(params, cur.grad_clip)
    nets.scaler.step(nets.opt_g)
    nets.scaler.update()
    nets.opt_g.zero_grad(set_to_none=True)
    nets.ema.update(params)
    nets.ema2.update(params)
    return total_img / len(starts), total_seg / len(starts)


def train_iteration(nets: Nets, plan: StepPlan, cur: Curriculum, real_img: torch.Tensor,
                    real_labels: torch.Tensor) -> dict[str, float]:
    """Spec 11.3 steps 1-3 on one real batch; returns the losses."""
    if nets.scaler.is_enabled() and nets.scaler.get_scale() < 1:
        nets.scaler.update(1.0)
    batch = real_img.shape[0]
    labels_n = nets.generator.cfg.num_labels
    fake, pose = _render_fakes(nets, plan, batch)
    d_img, r1 = _discriminator_update(nets.d_img, nets.opt_d_img, nets, plan, cur, real_img,
                                      fake[:, labels_n:], pose)
    fake, pose = _render_fakes(nets, plan, batch)
    d_seg, r1_seg = _discriminator_update(nets.d_seg, nets.opt_d_seg, nets, plan, cur,
                                          torch.cat([real_labels, real_img], 1), fake, pose)
    g_img, g_seg = _generator_update(nets, plan, cur, batch)
    return {"d_img": d_img, "d_seg": d_seg, "g_img": g_img, "g_seg": g_seg, "r1": r1, "r1_seg": r1_seg}


def apply_learning_rates(nets: Nets, stage: Stage, cur: Curriculum) -> None:
    """Stage learning rates (mapping-network groups scaled by mapping_lr_scale), betas, weight decay."""
    for opt, lr in ((nets.opt_g, stage.gen_lr), (nets.opt_d_img, stage.disc_img_lr),
                    (nets.opt_d_seg, stage.disc_seg_lr)):
        for group in opt.param_groups:
            group["lr"] = lr * (cur.mapping_lr_scale if group.get("name", "").endswith("mapping_network") else 1.0)
            group["betas"] = tuple(cur.betas)
            group["weight_decay"] = cur.weight_decay


def generator_param_groups(generator: Generator, mapping_lr_scale: float) -> list[dict]:
    """One group for everything (the official effective behaviour), or, when mapping_lr_scale != 1,
    the intended split: the rest, the geometry mapping network, the appearance mapping network."""
    params = list(generator.named_parameters())
    if mapping_lr_scale == 1.0:
        return [{"params": [p for _, p in params], "name": "generator"}]
    groups = {"generator": [], "geo_mapping_network": [], "app_mapping_network": []}
    for name, p in params:
        key = next((k for k in ("geo_mapping_network", "app_mapping_network") if f".{k}." in f".{name}"), "generator")
        groups[key].append(p)
    return [{"params": ps, "name": name} for name, ps in groups.items()]
