"""The inversion loop (spec 12.3-12.4) as an iterator of per-iteration records.

    inv = Inversion(generator, target, settings, start=None, perceptual=lpips_or_None)
    for record in inv:            # or inv.run(callback)
        ...                       # record.losses, record.miou, record.preview every eval_every
    inv.cancel()                  # from any thread: the loop ends after the current iteration
    inv.best                      # PortraitCodes with the best score so far (kept on cancel)

Optimised tensors are zero-initialised offsets on top of fixed base codes (the average codes, or
a previous result folded into the base). Each iteration: annealed code noise, a differentiable
frontal render of a jittered ray grid, the weighted losses, Adam + StepLR. Which offsets move
follows the loss weights (`InversionSettings.moves_geometry/appearance`). Every `eval_every`
iterations (and at the start and the end) a deterministic render at `eval_size` gives the mIoU
and a preview; the best state is the one with the highest present-class mIoU (with no mask term:
the lowest image MSE of that render). A plateau (`patience` evaluations without a better score)
stops the run or, while `plateau_lr_drops` last, restarts it from the best state at
`plateau_lr_factor` times the learning rate. All randomness comes from one generator seeded by
`settings.seed`.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch

from models.field.codes import Codes
from models.field.generator import Generator
from models.invert import losses
from models.invert.evaluation import Evaluation, Preview, evaluate_frontal
from models.invert.presets import InversionSettings
from models.invert.rays import RayRenderer, grid_pixels, region_pixels, with_region_rays
from models.invert.session_codes import PortraitCodes
from models.invert.start import choose_start
from models.invert.start_bank import Progress
from models.invert.targets import InversionTarget, resize_ids
from models.labels import merge_left_right
from models.render.options import RenderOptions

MIN_LPIPS_SIDE = 32        # the VGG/AlexNet stacks need at least this many pixels per side
FOCUS_MARGIN = 0.03        # an edit's region grows by this fraction of the side before its rays are drawn
FOCUS_RAYS = 0.5           # extra rays from that region per iteration, as a fraction of the grid's


@dataclass
class StepRecord:
    """One iteration: losses (seg, img, percept, norm, total), lr, seconds since the start, rays;
    at evaluation iterations also the mIoU (present classes and official 19-class) and a preview."""

    iteration: int
    losses: dict[str, float]
    lr: float
    elapsed: float
    rays: int
    miou: float | None = None
    miou19: float | None = None
    preview: Preview | None = None
    best: bool = False
    stopped: str | None = None       # on the last record: done | plateau | target | cancelled


@dataclass
class RenderSetup:
    """Camera and ray range of the model (from its render defaults)."""

    fov: float = 12.0
    ray_start: float = 0.88
    ray_end: float = 1.12

    @classmethod
    def from_defaults(cls, defaults: dict) -> "RenderSetup":
        return cls(defaults.get("fov", 12.0), defaults.get("ray_start", 0.88), defaults.get("ray_end", 1.12))

    def options(self, size: int, steps: int) -> RenderOptions:
        """Deterministic render options of this camera."""
        return RenderOptions(img_size=size, num_steps=steps, fov=self.fov, ray_start=self.ray_start,
                             ray_end=self.ray_end)


@dataclass
class InversionState:
    """What the loop keeps: current and best codes, their score, and the history."""

    current: PortraitCodes
    best: PortraitCodes
    best_score: float = -math.inf
    best_eval: Evaluation | None = None
    history: list[StepRecord] = field(default_factory=list)


class Inversion:
    """One inversion run; iterate it (or call `run`) to optimise."""

    def __init__(self, generator: Generator, target: InversionTarget, settings: InversionSettings,
                 start: PortraitCodes | None = None, perceptual: torch.nn.Module | None = None,
                 merge_sides: bool = False, setup: RenderSetup = RenderSetup(), focus: np.ndarray | None = None,
                 start_progress: Progress | None = None):
        """`focus`: optional boolean mask (any size) of the pixels an edit changed; then the best state
        is scored by the mean of the mIoU inside and outside it, so a small edit is not outvoted by
        the untouched rest of the frame. `start_progress(done, total)` follows the start search's
        first rendering of a model's candidate bank (it may raise to cancel)."""
        self.gen, self.target, self.settings = generator, target, settings
        self.perceptual = perceptual if settings.lambda_percept > 0 else None
        self.merge_sides, self.setup = merge_sides, setup
        if start is not None:
            base = start.folded()
        else:
            name, codes, _ = choose_start(generator, target, settings.start_candidates, settings.image_terms,
                                          setup.options(settings.eval_size, settings.eval_steps), merge_sides,
                                          start_progress)
            base = PortraitCodes.start(codes, {"start": name})
        base.check_fits(generator.cfg.geo_code_dim, generator.cfg.app_code_dim)
        self.state = InversionState(base, base.detach())
        self._cancel = threading.Event()
        self._eval_ids = target.ids_at(settings.eval_size)
        if merge_sides:
            self._eval_ids = merge_left_right(self._eval_ids)
        self._focus = self._focus_pixels = None
        self._pixel_weight = None
        if settings.class_balance > 0:
            self._pixel_weight = losses.class_balance_weights(target.ids_at(settings.size), settings.class_balance)
            self._pixel_weight = self._pixel_weight.to(generator.device)
        if focus is not None:
            self.set_focus(focus)
        self._eval_rgb = torch.from_numpy(target.image_at(settings.eval_size)).float() / 127.5 - 1

    # -- public ----------------------------------------------------------------------------
    @property
    def best(self) -> PortraitCodes:
        return self.state.best

    @property
    def history(self) -> list[StepRecord]:
        return self.state.history

    def set_focus(self, focus: np.ndarray) -> None:
        """Score the best state by the mIoU inside and outside this boolean region (any size); without
        image terms, also spend extra rays in and around it every iteration."""
        region = np.asarray(focus, np.uint8)
        self._focus = resize_ids(region, self.settings.eval_size) > 0
        at_target = torch.from_numpy(resize_ids(region, self.settings.size) > 0)
        margin = max(1, round(FOCUS_MARGIN * self.settings.size))
        self._focus_pixels = region_pixels(at_target, margin) if at_target.any() else None

    def cancel(self) -> None:
        """Ask the loop to stop after the current iteration (thread-safe); the best is kept."""
        self._cancel.set()

    def run(self, callback: Callable[[StepRecord], None] | None = None) -> PortraitCodes:
        """Run to the end (or cancel / early stop); returns the best codes."""
        for record in self:
            if callback is not None:
                callback(record)
        return self.best

    def evaluate(self, codes: Codes) -> Evaluation:
        """Deterministic frontal render at the evaluation size: mIoU, image MSE and a preview."""
        s = self.settings
        return evaluate_frontal(self.gen, codes, self.setup.options(s.eval_size, s.eval_steps), self._eval_ids,
                                self._eval_rgb, self.merge_sides)

    def __iter__(self) -> Iterator[StepRecord]:
        return self._steps()

    # -- the loop --------------------------------------------------------------------------
    def _steps(self) -> Iterator[StepRecord]:
        s, gen = self.settings, self.gen
        device = gen.device
        rng = torch.Generator().manual_seed(s.seed)
        renderer = RayRenderer(gen, s.size, s.num_steps, self.setup.fov, self.setup.ray_start,
                               self.setup.ray_end, s.jitter, s.skip_empty)
        base = self.state.current.base.to(device)
        offsets = [torch.zeros_like(t, requires_grad=True) for t in base.tensors()]
        moving = [o for i, o in enumerate(offsets) if (s.moves_geometry if i < 2 else s.moves_appearance)]
        optimizer = torch.optim.Adam(moving, lr=s.lr, weight_decay=s.weight_decay)
        schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=s.lr_step, gamma=s.lr_gamma)
        image = self.target.image.to(device).reshape(3, -1).T               # (S*S, 3)
        semantic = self.target.semantic.to(device).reshape(18, -1).T        # (S*S, 18)
        start = time.perf_counter()
        stale = drops = 0
        record = self._record(0, {}, s.lr, start, 0, Codes(*offsets))
        yield record
        for i in range(s.iterations):
            if self._cancel.is_set():
                yield self._finish(i, record, "cancelled")
                return
            side = s.grid_side(i)
            pixels = grid_pixels(s.size, side, rng).to(device)
            if self._focus_pixels is not None and not s.image_terms:
                pixels = with_region_rays(pixels, self._focus_pixels, round(FOCUS_RAYS * side * side), rng)
            anneal = s.code_noise * (s.iterations - i) / s.iterations
            noisy = Codes(*(b + anneal * torch.randn(b.shape, generator=rng).to(device) + o
                            for b, o in zip(base.tensors(), offsets)))
            out, _ = renderer.render(noisy, pixels, rng)
            weight = None if self._pixel_weight is None else self._pixel_weight[pixels]
            terms = self._losses(out, image[pixels], semantic[pixels], weight, side, Codes(*offsets))
            total = sum(s_weight * terms[k] for k, s_weight in self._weights().items())
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            lr = optimizer.param_groups[0]["lr"]
            schedule.step()
            values = {k: float(v.detach()) for k, v in terms.items()}
            values["total"] = float(total.detach())
            evaluate = (i + 1) % s.eval_every == 0 or i + 1 == s.iterations
            record = self._record(i + 1, values, lr, start, pixels.numel(), Codes(*offsets), evaluate)
            if record.preview is not None:
                stale = 0 if record.best else stale + 1
                if self._plateau(stale) and drops < s.plateau_lr_drops:
                    drops, stale = drops + 1, 0
                    self._resume_from_best(offsets, optimizer, s.plateau_lr_factor)
                stop = self._stop_reason(record, stale)
                if stop:
                    record.stopped = stop
                    yield record
                    return
            if i + 1 == s.iterations:
                record.stopped = "done"
            yield record

    def _weights(self) -> dict[str, float]:
        s = self.settings
        return {"seg": s.lambda_seg, "img": s.lambda_img, "percept": s.lambda_percept, "norm": s.lambda_norm}

    def _losses(self, out: torch.Tensor, rgb: torch.Tensor, semantic: torch.Tensor, weight: torch.Tensor | None,
                side: int, offset: Codes) -> dict[str, torch.Tensor]:
        terms = {"seg": losses.seg_loss(out[:, :18], semantic, self.merge_sides, weight),
                 "img": losses.image_loss(out[:, 18:], rgb),
                 "norm": losses.norm_loss(offset)}
        if self.perceptual is not None and side >= MIN_LPIPS_SIDE:
            as_image = lambda x: x.T.reshape(1, 3, side, side)  # noqa: E731
            terms["percept"] = self.perceptual(as_image(out[:, 18:]), as_image(rgb))[0]
        else:
            terms["percept"] = out.new_zeros(())
        return terms

    def _record(self, iteration: int, values: dict, lr: float, start: float, rays: int, offset: Codes,
                evaluate: bool = True) -> StepRecord:
        """Update the current codes; at evaluation iterations score them and keep the best."""
        current = PortraitCodes(self.state.current.base, offset.detach().map(lambda t: t.cpu().clone()),
                                self.state.current.info)
        self.state.current = current
        record = StepRecord(iteration, values, lr, 0.0, rays)
        if evaluate:
            ev = self.evaluate(current.effective)
            record.miou, record.miou19, record.preview = ev.miou, ev.miou19, ev.preview
            score = self._score(ev)
            record.best = self.state.best_eval is None or score > self.state.best_score + self.settings.min_delta
            if score > self.state.best_score:
                self.state.best_score, self.state.best_eval = score, ev
                self.state.best = current.detach()
                self.state.best.info = {**current.info, "iteration": iteration, "miou": ev.miou,
                                        "miou19": ev.miou19, "image_mse": ev.image_mse}
        record.elapsed = time.perf_counter() - start
        self.state.history.append(record)
        return record

    def _score(self, ev: Evaluation) -> float:
        """Higher is better: mIoU (or, with a focus region, the mean of the mIoU inside and outside
        it); with no mask term, minus the image MSE."""
        if self.settings.lambda_seg <= 0:
            return -ev.image_mse
        if self._focus is None or not self._focus.any():
            return ev.miou
        pred = merge_left_right(ev.preview.mask) if self.merge_sides else ev.preview.mask
        inside = losses.region_iou(pred, self._eval_ids, self._focus)
        outside = losses.region_iou(pred, self._eval_ids, ~self._focus)
        return 0.5 * (inside + (outside if outside is not None else inside))

    def _plateau(self, stale: int) -> bool:
        return self.settings.patience is not None and stale >= self.settings.patience

    def _resume_from_best(self, offsets: list[torch.Tensor], optimizer: torch.optim.Optimizer, factor: float) -> None:
        """After a plateau: back to the best state so far, with fresh Adam moments and the learning
        rate times `factor` (a finer search around the best point instead of a stop)."""
        with torch.no_grad():
            for offset, best in zip(offsets, self.state.best.offset.tensors()):
                offset.copy_(best)
        optimizer.state.clear()
        for group in optimizer.param_groups:
            group["lr"] *= factor

    def _stop_reason(self, record: StepRecord, stale: int) -> str | None:
        s = self.settings
        if s.stop_at_miou is not None and record.miou is not None and record.miou >= s.stop_at_miou:
            return "target"
        if self._plateau(stale):
            return "plateau"
        return None

    def _finish(self, iteration: int, last: StepRecord, reason: str) -> StepRecord:
        record = StepRecord(iteration, dict(last.losses), last.lr, last.elapsed, 0, stopped=reason)
        self.state.history.append(record)
        return record
