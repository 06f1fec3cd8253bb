"""A differentiable renderer for a subset of a frontal view's pixels (the inversion forward).

It follows the official inversion forward (spec 12.4 step 2: fixed pose, `num_steps` samples,
no fine pass, relu clamp, no density noise, no fill, real view directions, optional stratified
depth jitter) but renders only the rays it is given. Since the official losses are means over
pixels, a random pixel subset gives an unbiased estimate of them; `grid_pixels` draws a jittered
regular grid (every pixel equally likely; the subset is itself a downscaled image, so LPIPS
applies to it). With a full grid (stride 1) the result is the official full-image iteration. An
edit pass adds rays drawn from the edited region (`with_region_rays`): the estimate then weighs
that region more, which is the point of an edit.

`skip_empty` first finds, without gradients, the samples that can carry gradient (raw density
> 0 and transmittance above `TRANSMITTANCE_EPS`); only those go through the differentiable pass.
Samples with density <= 0 have zero weight and zero gradient under relu, so this is exact up to
the transmittance cut-off.
"""
from __future__ import annotations

import math

import torch

from models.field.codes import Codes
from models.field.generator import Generator
from models.render.camera import camera_origin, look_at_rotation, pixel_directions
from models.render.field_views import FoldedField
from models.render.integrate import alpha_weights, composite
from models.render.sampling import depth_grid, jitter_depths

TRANSMITTANCE_EPS = 1e-4


def grid_pixels(size: int, side: int, rng: torch.Generator) -> torch.Tensor:
    """Flat indices (side * side,) of a regular grid with stride size // side and a random offset,
    row-major, so they reshape to a (side, side) image."""
    stride = size // side
    oy, ox = (torch.randint(0, stride, (2,), generator=rng).tolist() if stride > 1 else (0, 0))
    rows = oy + stride * torch.arange(side)
    cols = ox + stride * torch.arange(side)
    return (rows[:, None] * size + cols[None, :]).reshape(-1)


def region_pixels(region: torch.Tensor, margin: int) -> torch.Tensor:
    """Flat indices of the pixels of a boolean (size, size) region grown by `margin` pixels."""
    grown = torch.nn.functional.max_pool2d(region.float()[None, None], 2 * margin + 1, stride=1, padding=margin)
    return torch.nonzero(grown.reshape(-1) > 0).squeeze(-1)


def with_region_rays(pixels: torch.Tensor, region: torch.Tensor, count: int, rng: torch.Generator) -> torch.Tensor:
    """`pixels` plus `count` distinct random pixels of `region` (flat indices; all of it if smaller)."""
    if region.numel() > count:
        region = region[torch.randperm(region.numel(), generator=rng)[:count]]
    return torch.cat([pixels, region.to(pixels.device)])


class RayRenderer:
    """Frontal (or fixed-pose) rays of a size x size view; `render` is differentiable in the codes."""

    def __init__(self, generator: Generator, size: int, num_steps: int, fov: float = 12.0,
                 ray_start: float = 0.88, ray_end: float = 1.12, jitter: bool = True,
                 skip_empty: bool = False, yaw: float = math.pi / 2, pitch: float = math.pi / 2):
        self.gen, self.size, self.num_steps = generator, size, num_steps
        self.ray_start, self.ray_end, self.jitter, self.skip_empty = ray_start, ray_end, jitter, skip_empty
        device = generator.device
        origin = camera_origin(torch.tensor([yaw]), torch.tensor([pitch])).to(device)
        self.origin = origin[0]
        self.dirs = pixel_directions(size, fov, device) @ look_at_rotation(origin)[0].T
        self.kept_fraction = 1.0

    def render(self, codes: Codes, pixels: torch.Tensor, rng: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Channels (n, 21) = [18 label values, RGB] in [-1, 1] and accumulated opacity (n,) for the
        given flat pixel indices."""
        dirs = self.dirs[pixels]
        n, s = dirs.shape[0], self.num_steps
        t = depth_grid(n, s, self.ray_start, self.ray_end, dirs.device)
        if self.jitter:
            t = jitter_depths(t, torch.rand((n, s), generator=rng).to(dirs.device))
        points = (self.origin + dirs.unsqueeze(1) * t.unsqueeze(-1)).reshape(n * s, 3)
        view = dirs.unsqueeze(1).expand(n, s, 3).reshape(n * s, 3)
        keep = self._live_samples(codes, points, t) if self.skip_empty else None
        if keep is not None:
            self.kept_fraction = keep.numel() / max(1, n * s)
            points, view = points[keep], view[keep]
        values = self._field(codes, points, view)               # (m, 22): labels, rgb, sigma
        if keep is not None:
            full = values.new_zeros(n * s, values.shape[-1])
            values = full.index_put((keep,), values)
        values = values.reshape(n, s, -1)
        w = alpha_weights(values[..., -1], t, "relu")
        return composite(w, values[..., :-1]) * 2 - 1, w.sum(-1)

    def _field(self, codes: Codes, points: torch.Tensor, view: torch.Tensor) -> torch.Tensor:
        gen = self.gen
        q = gen.warp(points.unsqueeze(0))
        feats = gen.geometry_features(q, codes)
        out = torch.cat([gen.label_logits(feats), gen.color(feats, q, view.unsqueeze(0), codes),
                         gen.density(feats)], -1)
        return out[0]

    @torch.no_grad()
    def _live_samples(self, codes: Codes, points: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Flat indices of samples with density > 0 and transmittance above the cut-off."""
        field = FoldedField(self.gen, codes.detach())
        sigma = field.density(field.geometry_features(field.warp(points.unsqueeze(0))))[0, :, 0]
        sigma = sigma.reshape(t.shape)
        w = alpha_weights(sigma, t, "relu")
        transmittance = 1 - torch.cumsum(w, -1) + w          # light reaching each sample
        live = (sigma > 0) & (transmittance > TRANSMITTANCE_EPS)
        return torch.nonzero(live.reshape(-1)).squeeze(-1)
