"""The 3D field of the procedural heads: signed distance, label and colour at any world point.

Everything here is a function of the world position and the head parameters only (lighting is a
fixed world-space light, never the view), so any renderer of this field is 3D-consistent.

Density for volume rendering: `density_from_sdf(sdf) = DENSITY_SCALE * sigmoid(-sdf / SURFACE_EPS)`.
With the defaults a ray crossing the surface becomes opaque within about 5 * SURFACE_EPS and a
ray grazing the surface is dilated by under one 64^2 pixel, so volume rendering it reproduces
the sphere-traced images. Labels are those of the nearest part wherever sdf < LABEL_BAND
(density there is at most DENSITY_SCALE * sigmoid(-6)) and 0 (background) beyond.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch

from models.data.head_params import HeadParams
from models.data.head_shape import BOX_HALF, combine, head_sdf, nearest_label, part_sdfs
from models.labels import ID

Tensor = torch.Tensor

SURFACE_EPS = 0.001
DENSITY_SCALE = 800.0
LABEL_BAND = 6 * SURFACE_EPS
LIGHT = tuple(v / math.sqrt(0.3 ** 2 + 0.5 ** 2 + 0.81 ** 2) for v in (0.3, 0.5, 0.81))
NORMAL_STEP = 0.0007
AO_STEPS = ((0.002, 0.35), (0.006, 0.25))   # (distance along the normal, weight): short range only
PUPIL = (0.03, 0.03, 0.035)
TEETH = (0.92, 0.90, 0.84)
LASH = (0.08, 0.06, 0.05)


class FieldSample(NamedTuple):
    sdf: Tensor     # (..., ) signed distance, negative inside
    label: Tensor   # (..., ) int64 CelebAMask-HQ ids, 0 where sdf >= LABEL_BAND
    rgb: Tensor     # (..., 3) in [0, 1], black where the label is 0


def density_from_sdf(sdf: Tensor, scale: float = DENSITY_SCALE, eps: float = SURFACE_EPS) -> Tensor:
    """Volume density with a sharp but finite surface at sdf = 0."""
    return scale * torch.sigmoid(-sdf / eps)


def head_field(points: Tensor, params: HeadParams, shade: bool = True) -> FieldSample:
    """Evaluate B heads at world points (B, N, 3); shade=False returns the unlit albedo."""
    if points.ndim != 3 or points.shape[0] != params.batch or points.shape[2] != 3:
        raise ValueError(f"points must be (B={params.batch}, N, 3), got {tuple(points.shape)}")
    return evaluate(points[..., 0], points[..., 1], points[..., 2], params.per_point(), shade)


def evaluate(x: Tensor, y: Tensor, z: Tensor, p: HeadParams, shade: bool = True) -> FieldSample:
    """The field at component points, with `p` broadcasting against them (per_point or take view)."""
    parts = part_sdfs(x, y, z, p.shape)
    sdf = combine(parts, x, y, z)
    label = torch.where(sdf < LABEL_BAND, nearest_label(parts, x), 0)
    rgb = _albedo(x, y, z, label, p.shape, p.look)
    if shade:
        rgb = rgb * _lighting(x, y, z, sdf, p.shape)[..., None]
    rgb = torch.where((label > 0)[..., None], rgb.clamp(0.0, 1.0), 0.0)
    return FieldSample(sdf, label, rgb)


def _albedo(x, y, z, label, p, look) -> Tensor:
    index = label[..., None, None].expand(*label.shape, 1, 3)
    rgb = torch.take_along_dim(look.part_rgb.expand(*label.shape, -1, -1), index, dim=-2).squeeze(-2)
    xm = x.abs()
    # eyes: iris and pupil around the gaze axis (+z), a lash line along the upper lid
    eye = (label == ID["l_eye"]) | (label == ID["r_eye"])
    dx, dy = xm - p.eye_c[..., 0], y - p.eye_c[..., 1]
    radial = torch.sqrt(dx * dx + dy * dy)
    iris_r = 0.40 * p.eye_r[..., 0]
    iris = look.iris_rgb * (0.75 + 0.25 * (radial / iris_r)[..., None].clamp(0.0, 1.0))
    rgb = torch.where((eye & (radial < iris_r))[..., None], iris, rgb)
    rgb = torch.where((eye & (radial < 0.4 * iris_r))[..., None], x.new_tensor(PUPIL), rgb)
    rgb = torch.where((eye & (dy > 0.62 * p.eye_r[..., 1]))[..., None], x.new_tensor(LASH), rgb)
    # mouth: upper teeth when it is open
    t = x / p.mouth_w
    my = y - p.mouth_c[..., 1] - p.smile * t * t
    teeth = (label == ID["mouth"]) & (my > 0.0) & (t.abs() < 0.7) & (p.mouth_open > 0.003)
    rgb = torch.where(teeth[..., None], x.new_tensor(TEETH), rgb)
    # sunglass lenses: the part of eye_g inside the rim
    lens = (label == ID["eye_g"]) & (p.sunglasses > 0) & (z < p.eye_c[..., 2] + 0.016 + 0.0008) & (
        (xm - p.eye_c[..., 0]).abs() < p.glasses_r[..., 0] - 0.0025)
    rgb = torch.where(lens[..., None], look.lens_rgb.expand_as(rgb), rgb)
    # hair strands: streaks running down the head
    hair = label == ID["hair"]
    around = torch.atan2(x, z - p.skull_c[..., 2])
    wave = 3.0 * torch.sin(50.0 * y + look.noise_phase[..., 0])
    streak = 1.0 + 0.06 * torch.sin(47.0 * around + wave) + 0.05 * torch.sin(113.0 * around - 0.7 * wave)
    rgb = torch.where(hair[..., None], rgb * streak[..., None], rgb)
    # low-frequency variation everywhere
    ph = look.noise_phase
    wobble = torch.sin(31.0 * x + ph[..., 0]) * torch.sin(37.0 * y + ph[..., 1]) * torch.sin(29.0 * z + ph[..., 2])
    return rgb * (1.0 + 0.05 * wobble)[..., None]


def _lighting(x, y, z, sdf, p) -> Tensor:
    """Diffuse light from a fixed world direction times ambient occlusion: a function of position only."""
    nx, ny, nz = _normal(x, y, z, sdf, p)
    lambert = ((nx * LIGHT[0] + ny * LIGHT[1] + nz * LIGHT[2]) + 0.3) / 1.3
    occlusion = torch.zeros_like(x)
    for dist, weight in AO_STEPS:
        occlusion = occlusion + weight * (dist - head_sdf(x + nx * dist, y + ny * dist, z + nz * dist, p)) / dist
    ao = (1.0 - occlusion).clamp(0.45, 1.0)
    return (0.5 + 0.55 * lambert.clamp(0.0, 1.0)) * ao


def _normal(x, y, z, sdf, p) -> tuple[Tensor, Tensor, Tensor]:
    """Unit gradient of the head's distance by forward differences from the known centre value."""
    h = NORMAL_STEP
    nx = head_sdf(x + h, y, z, p) - sdf
    ny = head_sdf(x, y + h, z, p) - sdf
    nz = head_sdf(x, y, z + h, p) - sdf
    norm = torch.sqrt(nx * nx + ny * ny + nz * nz).clamp_min(1e-12)
    return nx / norm, ny / norm, nz / norm


def sample_training_points(params: HeadParams, n: int, generator: torch.Generator,
                           near_fraction: float = 0.8, sigma: float = 0.006) -> Tensor:
    """Points (B, n, 3) for supervising a field: about `near_fraction` of them within a Gaussian
    shell of width `sigma` around each head's surface, the rest uniform in the box."""
    batch = params.batch
    n_near = int(round(n * near_fraction))
    device = params.z_geo.device
    candidates = (torch.rand((batch, 8 * max(n_near, 1), 3), generator=generator, device=device) * 2 - 1) * BOX_HALF
    cx, cy, cz = candidates.unbind(-1)
    sdf = head_sdf(cx, cy, cz, params.shape.per_point())
    accept = torch.exp(-0.5 * (sdf / sigma) ** 2)
    key = torch.rand(sdf.shape, generator=generator, device=device) - accept     # accepted candidates sort first
    order = key.argsort(dim=1)[:, :n_near]
    near = torch.take_along_dim(candidates, order[..., None], dim=1)
    uniform = (torch.rand((batch, n - n_near, 3), generator=generator, device=device) * 2 - 1) * BOX_HALF
    return torch.cat([near, uniform], 1)
