"""Pivotal tuning (Roich et al. 2022, "PTI"): after the codes are fitted, tune the generator's own
weights around them so the portrait is reproduced while the codes keep their meaning.

    tuning = Tuning(generator, target, pivot, settings, perceptual=lpips_or_None)
    for record in tuning:          # or tuning.run(callback); same records as the inversion loop
        ...
    tuning.cancel()                # from any thread; the best state is kept
    tuning.best                    # TunedWeights: the tuned tensors of the parts that moved

The pivot's effective codes stay fixed; a copy of the generator moves (the parameter groups of
`settings.parts`). Each iteration renders a jittered ray grid of the frontal target with the
tuned copy (the inversion forward, `models/invert/rays.py`) and adds:
* the official inversion's terms against the photo: image MSE, the (class-balanced) mask MSE and
  LPIPS where its backbone is present; and, since LPIPS is often absent offline, a multi-scale
  image-gradient L1 on the ray grid that keeps edges sharp instead of averaging them away;
* PTI's locality regulariser: a code a fixed fraction of the way from the pivot to a random code
  renders, from a random training pose, what the untuned generator renders there;
* a shape term: at random points of the box the pivot's opacity stays the untuned generator's.
  Frontal pixels alone cannot tell depth, so without it the tuned density drifts along the
  frontal rays and side views smear (bench/tune_views.py measures this);
* with `freeze_view`, the texture branch's view-direction weights do not move: a frontal-only
  target cannot constrain how colour changes with the view.
Every `eval_every` iterations a deterministic frontal render scores the state (foreground PSNR and
present-class mIoU); the best is the highest PSNR / 20 + mIoU.
"""
from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from models.field.codes import Codes
from models.field.generator import Generator
from models.invert import losses
from models.invert.evaluation import Evaluation, evaluate_frontal
from models.invert.image_metrics import foreground_psnr
from models.invert.optimize import MIN_LPIPS_SIDE, RenderSetup, StepRecord
from models.invert.rays import RayRenderer, grid_pixels
from models.invert.targets import InversionTarget
from models.invert.tune_settings import TuneSettings
from models.invert.tuned_weights import TunedWeights, model_digest, part_parameters
from models.labels import merge_left_right
from models.render.camera import PITCH_EPS
from models.render.integrate import alpha_weights

POSE_STDDEV = (0.3, 0.155)     # yaw, pitch spread of the training poses (spec 4.3) for the locality renders
SCORE_PSNR_SCALE = 20.0        # best state: foreground PSNR / this + present-class mIoU


def edge_loss(pred: torch.Tensor, target: torch.Tensor, levels: int = 2) -> torch.Tensor:
    """Mean L1 between the horizontal and vertical differences of two (1, 3, S, S) images, at S and at
    each 2x-smaller scale down to `levels` scales."""
    total = pred.new_zeros(())
    for level in range(levels):
        if level:
            pred, target = (torch.nn.functional.avg_pool2d(x, 2) for x in (pred, target))
        for dim in (2, 3):
            total = total + torch.mean(torch.abs(torch.diff(pred, dim=dim) - torch.diff(target, dim=dim)))
    return total / levels


@dataclass
class TuneState:
    best: TunedWeights
    best_score: float = -math.inf
    best_eval: Evaluation | None = None


class Tuning:
    """One tuning run of a copy of `generator` around the pivot codes; iterate it or call `run`."""

    def __init__(self, generator: Generator, target: InversionTarget, pivot: Codes, settings: TuneSettings,
                 perceptual: torch.nn.Module | None = None, merge_sides: bool = False,
                 setup: RenderSetup = RenderSetup(), start: TunedWeights | None = None):
        """`start`: tuned weights to continue from (e.g. a re-tune); the locality and shape terms
        still compare with `generator` as given."""
        self.original, self.target, self.settings = generator, target, settings
        self.pivot = pivot.detach().to(generator.device)
        self.perceptual = perceptual if settings.lambda_percept > 0 else None
        self.merge_sides, self.setup = merge_sides, setup
        self._digest = model_digest(generator)
        self.tuned = copy.deepcopy(generator)
        if start is not None:
            start.apply_to(self.tuned)
        self.tuned.requires_grad_(False)
        self.params = part_parameters(self.tuned, settings.parts)
        for p in self.params.values():
            p.requires_grad_(True)
        self._cancel = threading.Event()
        self._eval_ids = target.ids_at(settings.eval_size)
        if merge_sides:
            self._eval_ids = merge_left_right(self._eval_ids)
        self._eval_rgb_uint8 = target.image_at(settings.eval_size)
        self._eval_rgb = torch.from_numpy(self._eval_rgb_uint8).float() / 127.5 - 1
        self._pixel_weight = None
        if settings.class_balance > 0:
            weight = losses.class_balance_weights(target.ids_at(settings.size), settings.class_balance)
            self._pixel_weight = weight.to(generator.device)
        self.state = TuneState(self.snapshot())
        self.history: list[StepRecord] = []

    # -- public ----------------------------------------------------------------------------
    @property
    def best(self) -> TunedWeights:
        return self.state.best

    @property
    def best_generator(self) -> Generator:
        """A generator carrying the best tuned weights (a copy of the original)."""
        return self.state.best.applied(self.original)

    def snapshot(self) -> TunedWeights:
        return TunedWeights({name: p.detach().cpu().clone() for name, p in self.params.items()},
                            {"parts": list(self.settings.parts), "model_digest": self._digest})

    def cancel(self) -> None:
        """Ask the loop to stop after the current iteration (thread-safe); the best is kept."""
        self._cancel.set()

    def run(self, callback: Callable[[StepRecord], None] | None = None) -> TunedWeights:
        for record in self:
            if callback is not None:
                callback(record)
        return self.best

    def evaluate(self, generator: Generator) -> tuple[Evaluation, float]:
        """Deterministic frontal render at the evaluation size: its evaluation and foreground PSNR."""
        s = self.settings
        ev = evaluate_frontal(generator, self.pivot, self.setup.options(s.eval_size, s.eval_steps), self._eval_ids,
                              self._eval_rgb, self.merge_sides)
        return ev, foreground_psnr(ev.preview.rgb, self._eval_rgb_uint8, self._eval_ids > 0)

    def __iter__(self) -> Iterator[StepRecord]:
        return self._steps()

    # -- the loop --------------------------------------------------------------------------
    def _steps(self) -> Iterator[StepRecord]:
        s, gen = self.settings, self.tuned
        device = gen.device
        rng = torch.Generator().manual_seed(s.seed)
        frontal = RayRenderer(gen, s.size, s.num_steps, self.setup.fov, self.setup.ray_start, self.setup.ray_end,
                              True, s.skip_empty)
        optimizer = torch.optim.Adam(list(self.params.values()), lr=s.lr)
        floor = s.final_lr_factor
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda i: floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * i / s.iterations)))
        view_mask = self._freeze_view_hook() if s.freeze_view else None
        image = self.target.image.to(device).reshape(3, -1).T
        semantic = self.target.semantic.to(device).reshape(18, -1).T
        start = time.perf_counter()
        record = self._record(0, {}, start, 0, True)
        yield record
        try:
            for i in range(s.iterations):
                if self._cancel.is_set():
                    yield self._finish(i, record, "cancelled")
                    return
                pixels = grid_pixels(s.size, s.rays, rng).to(device)
                out, _ = frontal.render(self.pivot, pixels, rng)
                terms = self._photo_terms(out, image[pixels], semantic[pixels], pixels)
                if s.lambda_locality > 0:
                    terms["locality"] = self._locality(rng)
                if s.lambda_shape > 0:
                    terms["shape"] = self._shape(rng)
                total = sum(self._weight(k) * v for k, v in terms.items())
                optimizer.zero_grad(set_to_none=True)
                total.backward()
                optimizer.step()
                schedule.step()
                values = {k: float(v.detach()) for k, v in terms.items()}
                values["total"] = float(total.detach())
                evaluate = (i + 1) % s.eval_every == 0 or i + 1 == s.iterations
                record = self._record(i + 1, values, start, pixels.numel(), evaluate, optimizer.param_groups[0]["lr"])
                if i + 1 == s.iterations:
                    record.stopped = "done"
                yield record
        finally:
            if view_mask is not None:
                view_mask.remove()

    def _weight(self, key: str) -> float:
        s = self.settings
        return {"img": s.lambda_img, "seg": s.lambda_seg, "percept": s.lambda_percept, "edges": s.lambda_edges,
                "locality": s.lambda_locality, "shape": s.lambda_shape}[key]

    def _photo_terms(self, out: torch.Tensor, rgb: torch.Tensor, semantic: torch.Tensor, pixels: torch.Tensor
                     ) -> dict[str, torch.Tensor]:
        s = self.settings
        weight = None if self._pixel_weight is None else self._pixel_weight[pixels]
        terms = {"img": losses.image_loss(out[:, 18:], rgb),
                 "seg": losses.seg_loss(out[:, :18], semantic, self.merge_sides, weight)}
        as_image = lambda x: x.T.reshape(1, 3, s.rays, s.rays)  # noqa: E731
        if s.lambda_edges > 0:
            terms["edges"] = edge_loss(as_image(out[:, 18:]), as_image(rgb))
        if self.perceptual is not None and s.rays >= MIN_LPIPS_SIDE:
            terms["percept"] = self.perceptual(as_image(out[:, 18:]), as_image(rgb))[0]
        return terms

    def _locality(self, rng: torch.Generator) -> torch.Tensor:
        """PTI's regulariser: a code part of the way from the pivot to a random one, rendered from a random
        training pose by the tuned and the untuned generator, should agree (all 21 channels)."""
        s, cfg, device = self.settings, self.original.cfg, self.original.device
        z = [torch.randn(1, dim, generator=rng).to(device) for dim in (cfg.z_geo_dim, cfg.z_app_dim)]
        with torch.no_grad():
            other = self.original.map_latents(*z)
        near = self.pivot.lerp(other, s.locality_distance)
        normal = torch.randn(2, generator=rng).tolist()
        yaw = math.pi / 2 + POSE_STDDEV[0] * normal[0]
        pitch = min(max(math.pi / 2 + POSE_STDDEV[1] * normal[1], PITCH_EPS), math.pi - PITCH_EPS)
        side = s.locality_rays
        pixels = torch.arange(side * side, device=device)
        args = (side, s.num_steps, self.setup.fov, self.setup.ray_start, self.setup.ray_end, False, s.skip_empty,
                yaw, pitch)
        with torch.no_grad():
            before, _ = RayRenderer(self.original, *args).render(near, pixels)
        after, _ = RayRenderer(self.tuned, *args).render(near, pixels)
        return torch.mean((after - before) ** 2)

    def _shape(self, rng: torch.Generator) -> torch.Tensor:
        """Mean squared difference of the pivot's per-sample opacity (at the tuning's sample spacing)
        between the tuned and the untuned generator, at random points of the box."""
        s = self.settings
        half = self.original.cfg.box_size / 2
        points = ((torch.rand(1, s.shape_points, 3, generator=rng) * 2 - 1) * half).to(self.original.device)
        delta = (self.setup.ray_end - self.setup.ray_start) / (s.num_steps - 1)
        opacity = lambda g: 1 - torch.exp(-delta * torch.relu(  # noqa: E731
            g.density(g.geometry_features(g.warp(points), self.pivot))))
        with torch.no_grad():
            before = opacity(self.original)
        return torch.mean((opacity(self.tuned) - before) ** 2)

    def _freeze_view_hook(self):
        """Zero the gradient of the first texture layer's view-direction columns."""
        weight = self.tuned.siren.color_layer_sine[0].layer.weight
        if not weight.requires_grad:
            return None
        keep = torch.ones_like(weight)
        keep[:, :3] = 0
        return weight.register_hook(lambda grad: grad * keep)

    def _record(self, iteration: int, values: dict, start: float, rays: int, evaluate: bool,
                lr: float | None = None) -> StepRecord:
        record = StepRecord(iteration, values, self.settings.lr if lr is None else lr, 0.0, rays)
        if evaluate:
            ev, psnr = self.evaluate(self.tuned)
            record.miou, record.miou19, record.preview = ev.miou, ev.miou19, ev.preview
            record.losses = {**values, "psnr": psnr}
            score = psnr / SCORE_PSNR_SCALE + ev.miou
            record.best = score > self.state.best_score
            if record.best:
                self.state.best_score, self.state.best_eval = score, ev
                self.state.best = self.snapshot()
                self.state.best.info.update({"iteration": iteration, "miou": ev.miou, "miou19": ev.miou19,
                                             "psnr": psnr})
        record.elapsed = time.perf_counter() - start
        self.history.append(record)
        return record

    def _finish(self, iteration: int, last: StepRecord, reason: str) -> StepRecord:
        record = StepRecord(iteration, dict(last.losses), last.lr, last.elapsed, 0, stopped=reason)
        self.history.append(record)
        return record

