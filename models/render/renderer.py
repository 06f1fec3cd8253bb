"""Rendering a FENeRF field (spec 4-6): rays, coarse pass, importance pass, integration, fill.

One pipeline serves three uses:
* official mode: random draws in the official order (seeded runs reproduce official renders);
* deterministic mode (the app's default), optionally accelerated;
* the differentiable training/inversion forward (`render_training`).
Work is chunked by rays so memory stays bounded; chunking never changes results.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from models.field.codes import Codes
from models.field.generator import Generator, locked_directions
from models.render.field_views import CodeField, FoldedField
from models.render.occupancy import OccupancyGrid
from models.render.camera import pixel_directions, look_at_rotation, camera_origin, sample_poses
from models.render.integrate import OPACITY_THRESHOLD, alpha_weights, composite, fill_background, label_mask
from models.render.options import RenderOptions, RenderResult
from models.render.sampling import depth_grid, fine_depths, jitter_depths, stratified_uniforms

HEAD_WEIGHT_EPS = 1e-4      # accelerated mode: samples below this weight skip the label/colour heads
EMPTY_RAY_OPACITY = 1e-3    # accelerated mode: rays this transparent after the coarse pass skip the fine pass

Progress = Callable[[int, int], None]


@dataclass
class RandomDraws:
    """The random numbers of one official render, drawn up front in the official order (spec 6.5)."""

    jitter: torch.Tensor             # (B, N, S)
    yaw: torch.Tensor                # (B, 1) whatever `draw_pose` returned
    pitch: torch.Tensor              # (B, 1)
    coarse_noise: torch.Tensor | None
    importance: torch.Tensor | None  # (B, N, S)
    final_noise: torch.Tensor        # (B, N, K)

    @classmethod
    def official(cls, batch: int, rays: int, opts: RenderOptions,
                 draw_pose: Callable[[], tuple[torch.Tensor, torch.Tensor]], device=None) -> "RandomDraws":
        """Depth jitter, then the pose (`draw_pose`), then the hierarchical and integration noise."""
        s = opts.num_steps
        jitter = torch.rand((batch, rays, s, 1), device=device)[..., 0]
        yaw, pitch = draw_pose()
        coarse = importance = None
        if opts.hierarchical:
            coarse = torch.randn((batch, rays, s, 1), device=device)[..., 0]
            importance = torch.rand((batch * rays, s), device=device).reshape(batch, rays, s)
        final = torch.randn((batch, rays, opts.samples_per_ray, 1), device=device)[..., 0]
        return cls(jitter, yaw, pitch, coarse, importance, final)


@dataclass
class PreparedCodes:
    """What a camera move does not change, per batch element: the folded field and, optionally, the
    occupancy grid for empty-space skipping. Build once with `prepare` and pass to every render."""

    fields: list[FoldedField]
    occupancy: list[OccupancyGrid | None]
    lock_view: bool


def prepare(gen: Generator, codes: Codes, lock_view: bool = False, skip_empty: bool = True) -> PreparedCodes:
    """Fold the codes into the field (and sample the occupancy grid when skip_empty)."""
    fields = [FoldedField(gen, codes.select(b), lock_view) for b in range(codes.batch)]
    return PreparedCodes(fields, [OccupancyGrid(f) if skip_empty else None for f in fields], lock_view)


@dataclass
class _Rays:
    origin: torch.Tensor   # (3,)
    dirs: torch.Tensor     # (n, 3) world, unit
    view: torch.Tensor     # (n, 3) directions fed to the texture branch


def _eval_full(field, points: torch.Tensor, view: torch.Tensor) -> torch.Tensor:
    """Full 22-channel field [labels, RGB, density] for (n, S, 3) points -> (n, S, 22)."""
    n, s, _ = points.shape
    q = field.warp(points.reshape(1, n * s, 3))
    feats = field.geometry_features(q)
    dirs = view.unsqueeze(1).expand(n, s, 3).reshape(1, n * s, 3)
    out = torch.cat([field.label_logits(feats), field.color(feats, q, dirs), field.density(feats)], -1)
    return out.reshape(n, s, -1)


def _eval_geometry(field, points: torch.Tensor, occupancy: OccupancyGrid | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Trunk features (n, S, H) and raw density (n, S) only; points in empty cells of the occupancy
    grid are skipped (features 0, density 0)."""
    n, s, _ = points.shape
    flat = points.reshape(n * s, 3)
    if occupancy is None:
        feats = field.geometry_features(field.warp(flat[None]))[0]
        return feats.reshape(n, s, -1), field.density(feats).reshape(n, s)
    keep = torch.nonzero(occupancy.contains(flat)).squeeze(-1)
    feats = flat.new_zeros(n * s, field.feat_w.shape[1])
    sigma = flat.new_zeros(n * s)
    if keep.numel():
        f = field.geometry_features(field.warp(flat[keep][None]))[0]
        feats[keep], sigma[keep] = f, field.density(f)[:, 0]
    return feats.reshape(n, s, -1), sigma.reshape(n, s)


def _trace_full(field, rays: _Rays, opts: RenderOptions, draws: dict
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reference pipeline: every sample through the whole network. Returns channels (n, 21), depth, opacity."""
    n = rays.dirs.shape[0]
    t = depth_grid(n, opts.num_steps, opts.ray_start, opts.ray_end, rays.dirs.device)
    if draws.get("jitter") is not None:
        t = jitter_depths(t, draws["jitter"])
    out = _eval_full(field, rays.origin + rays.dirs.unsqueeze(1) * t.unsqueeze(-1), rays.view)
    if opts.hierarchical:
        with torch.no_grad():
            w = alpha_weights(out[..., -1], t, opts.clamp_mode, _noise(draws, "coarse_noise", opts))
            u = draws.get("importance")
            u = stratified_uniforms(n, opts.num_steps, t.device) if u is None else u
            t_fine = fine_depths(t, w, u)
        fine = _eval_full(field, rays.origin + rays.dirs.unsqueeze(1) * t_fine.unsqueeze(-1), rays.view)
        t, order = torch.sort(torch.cat([t_fine, t], -1), -1)
        out = torch.gather(torch.cat([fine, out], 1), 1, order.unsqueeze(-1).expand(-1, -1, out.shape[-1]))
    w = alpha_weights(out[..., -1], t, opts.clamp_mode, _noise(draws, "final_noise", opts))
    return composite(w, out[..., :-1]), (w * t).sum(-1), w.sum(-1)


def _noise(draws: dict, key: str, opts: RenderOptions) -> torch.Tensor | None:
    noise = draws.get(key)
    return None if noise is None else noise * opts.nerf_noise


def _trace_accelerated(field: FoldedField, occupancy: OccupancyGrid | None, rays: _Rays, opts: RenderOptions
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Deterministic pipeline that skips work the displayed (filled) result cannot depend on:
    samples in empty space (occupancy grid) are not evaluated; the coarse pass computes density only;
    rays left empty by it skip the fine pass; the label and colour heads run only on foreground rays
    (opacity >= 0.9) and samples with weight > 1e-4."""
    n = rays.dirs.shape[0]
    s = opts.num_steps
    t = depth_grid(n, s, opts.ray_start, opts.ray_end, rays.dirs.device)
    feats, sigma = _eval_geometry(field, rays.origin + rays.dirs.unsqueeze(1) * t.unsqueeze(-1), occupancy)
    order = None
    if opts.hierarchical:
        w = alpha_weights(sigma, t, opts.clamp_mode)
        t_fine = fine_depths(t, w, stratified_uniforms(n, s, t.device))
        fine_feats = feats.new_zeros(feats.shape)
        fine_sigma = sigma.new_zeros(sigma.shape)
        active = torch.nonzero(w.sum(-1) >= EMPTY_RAY_OPACITY).squeeze(-1)
        if active.numel():
            pts = rays.origin + rays.dirs[active].unsqueeze(1) * t_fine[active].unsqueeze(-1)
            fine_feats[active], fine_sigma[active] = _eval_geometry(field, pts, occupancy)
        feats = torch.cat([fine_feats, feats], 1)          # unsorted; indexed through `order` below
        t, order = torch.sort(torch.cat([t_fine, t], -1), -1)
        sigma = torch.gather(torch.cat([fine_sigma, sigma], 1), 1, order)
    w = alpha_weights(sigma, t, opts.clamp_mode)
    opacity = w.sum(-1)
    keep = (w > HEAD_WEIGHT_EPS) & (opacity >= OPACITY_THRESHOLD).unsqueeze(-1)
    ray_idx, sample_idx = torch.nonzero(keep, as_tuple=True)
    channels = w.new_zeros(n, field.label_b.shape[0] + 3)
    if ray_idx.numel():
        source_idx = sample_idx if order is None else order[ray_idx, sample_idx]
        f = feats[ray_idx, source_idx].unsqueeze(0)
        pts = (rays.origin + rays.dirs[ray_idx] * t[ray_idx, sample_idx].unsqueeze(-1)).unsqueeze(0)
        values = torch.cat([field.label_logits(f), field.color(f, field.warp(pts), rays.view[ray_idx].unsqueeze(0))], -1)[0]
        channels.index_add_(0, ray_idx, values * w[ray_idx, sample_idx].unsqueeze(-1))
    return channels, (w * t).sum(-1), opacity


def _frame(gen: Generator, codes: Codes, yaw: torch.Tensor, pitch: torch.Tensor, opts: RenderOptions,
           draws: RandomDraws | None, progress: Progress | None = None, prepared: PreparedCodes | None = None
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Trace every pixel of every batch element; returns channels (B, N, 21), depth, opacity (B, N)."""
    batch, res = codes.batch, opts.img_size
    rays_total = res * res
    device = gen.device
    origins = camera_origin(yaw.to(device), pitch.to(device))
    rotations = look_at_rotation(origins)
    dirs_cam = pixel_directions(res, opts.fov, device)
    accelerate = opts.accelerate and opts.mode == "deterministic" and opts.fill_mode is not None \
        and not torch.is_grad_enabled()
    per_chunk = max(1, opts.chunk_points // opts.num_steps)
    chunks = math.ceil(rays_total / per_chunk)
    outs: list[list[tuple]] = []
    for b in range(batch):
        if accelerate:
            if prepared is None or prepared.lock_view != opts.lock_view:
                prepared = prepare(gen, codes, opts.lock_view, skip_empty=False)
            field, occupancy = prepared.fields[b], prepared.occupancy[b]
        else:
            field = CodeField(gen, codes.select(b))
        dirs_b = dirs_cam @ rotations[b].T
        row = []
        for c in range(chunks):
            sl = slice(c * per_chunk, min(rays_total, (c + 1) * per_chunk))
            dirs = dirs_b[sl]
            rays = _Rays(origins[b], dirs, locked_directions(dirs) if opts.lock_view else dirs)
            if accelerate:
                row.append(_trace_accelerated(field, occupancy, rays, opts))
            else:
                chunk_draws = {} if draws is None else {
                    k: getattr(draws, k)[b, sl] for k in ("jitter", "coarse_noise", "importance", "final_noise")
                    if getattr(draws, k) is not None}
                row.append(_trace_full(field, rays, opts, chunk_draws))
            if progress is not None:
                progress(b * chunks + c + 1, batch * chunks)
        outs.append(row)
    channels = torch.stack([torch.cat([r[0] for r in row]) for row in outs])
    depth = torch.stack([torch.cat([r[1] for r in row]) for row in outs])
    opacity = torch.stack([torch.cat([r[2] for r in row]) for row in outs])
    return channels, depth, opacity


def _as_batch(value, batch: int) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float32).reshape(-1)
    return t.expand(batch).clone() if t.numel() == 1 else t


@torch.no_grad()
def render(gen: Generator, codes: Codes, yaw=math.pi / 2, pitch=math.pi / 2,
           opts: RenderOptions = RenderOptions(), progress: Progress | None = None,
           prepared: PreparedCodes | None = None) -> RenderResult:
    """Render codes from camera angles (floats or (B,) tensors). In official mode the global torch
    RNG is consumed exactly like the official `staged_forward_with_frequencies`. Pass `prepared`
    (from `prepare`) when rendering the same codes from many views."""
    batch, res = codes.batch, opts.img_size
    yaw, pitch = _as_batch(yaw, batch), _as_batch(pitch, batch)
    draws = None
    if opts.mode == "official":
        # the official scripts draw a gaussian pose with zero spread: consume those numbers, keep the pose
        zero_spread = lambda: (torch.randn((batch, 1), device=gen.device) * 0,  # noqa: E731
                               torch.randn((batch, 1), device=gen.device) * 0)
        draws = RandomDraws.official(batch, res * res, opts, zero_spread, gen.device)
        yaw, pitch = yaw + draws.yaw[:, 0].cpu(), pitch + draws.pitch[:, 0].cpu()
    channels, depth, opacity = _frame(gen, codes, yaw, pitch, opts, draws, progress, prepared)
    mask = None
    if opts.fill_mode is not None:
        channels = fill_background(channels, opacity, opts.fill_color)
    image = (channels * 2 - 1).permute(0, 2, 1).reshape(batch, -1, res, res)
    if opts.fill_mode is not None:
        mask = label_mask(image)
    return RenderResult(image, depth.reshape(batch, res, res), opacity.reshape(batch, res, res), mask)


def render_training(gen: Generator, codes: Codes, opts: RenderOptions, h_mean: float = math.pi / 2,
                    v_mean: float = math.pi / 2, h_stddev: float = 0.3, v_stddev: float = 0.155,
                    sample_dist: str | None = "gaussian") -> tuple[torch.Tensor, torch.Tensor]:
    """The differentiable training forward (spec 6.2 `forward`): random poses, official jitter and
    importance sampling, no fill mode. Returns (B, 21, R, R) in [-1, 1] and poses (B, 2) = [pitch, yaw]."""
    batch, res = codes.batch, opts.img_size
    device = gen.device
    draws = RandomDraws.official(batch, res * res, opts, lambda: sample_poses(
        batch, sample_dist, h_mean, v_mean, h_stddev, v_stddev, device), device)
    yaw, pitch = draws.yaw, draws.pitch
    opts = opts.replace(fill_mode=None, mode="official")
    channels, _, _ = _frame(gen, codes, yaw[:, 0], pitch[:, 0], opts, draws)
    image = (channels * 2 - 1).permute(0, 2, 1).reshape(batch, -1, res, res)
    return image, torch.cat([pitch, yaw], -1)
