"""The pi-GAN camera (spec 4.1, 4.3): a narrow-FOV pinhole on the unit sphere looking at the origin.

Angles are radians: yaw = theta (horizontal), pitch = phi (polar angle from +y). The frontal
view is yaw = pitch = pi/2, camera at (0, 0, 1) looking down -z, world +y up, +x right.
"""
from __future__ import annotations

import math

import torch

FRONT = math.pi / 2
PITCH_EPS = 1e-5


def normalize(v: torch.Tensor) -> torch.Tensor:
    return v / torch.norm(v, dim=-1, keepdim=True)


def pixel_directions(resolution: int, fov_deg: float, device=None) -> torch.Tensor:
    """Camera-space unit directions (R*R, 3), row-major, row 0 at the top; +-1 are border-pixel centres."""
    lin = torch.linspace(-1, 1, resolution, device=device)
    v, u = torch.meshgrid(-lin, lin, indexing="ij")
    z = -torch.ones_like(u) / math.tan(math.radians(fov_deg) / 2)
    return normalize(torch.stack([u.flatten(), v.flatten(), z.flatten()], -1))


def camera_origin(yaw: torch.Tensor, pitch: torch.Tensor, radius: float = 1.0) -> torch.Tensor:
    """Camera centres (B, 3) on the sphere for yaw/pitch tensors of shape (B,) or (B, 1)."""
    yaw = yaw.reshape(-1, 1)
    pitch = torch.clamp(pitch.reshape(-1, 1), PITCH_EPS, math.pi - PITCH_EPS)
    return radius * torch.cat([torch.sin(pitch) * torch.cos(yaw), torch.cos(pitch),
                               torch.sin(pitch) * torch.sin(yaw)], -1)


def look_at_rotation(origin: torch.Tensor) -> torch.Tensor:
    """Camera-to-world rotations (B, 3, 3) whose columns are the camera x, y, z axes in world space."""
    forward = normalize(-origin)
    up = torch.tensor([0.0, 1.0, 0.0], device=origin.device).expand_as(forward)
    left = normalize(torch.cross(up, forward, dim=-1))
    up = normalize(torch.cross(forward, left, dim=-1))
    return torch.stack((-left, up, -forward), dim=-1)


def sample_poses(batch: int, dist: str | None, h_mean: float, v_mean: float, h_stddev: float,
                 v_stddev: float, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw (yaw, pitch) each (B, 1) like the official sampler, consuming the global RNG in its order."""
    if dist in ("gaussian", "normal"):
        yaw = torch.randn((batch, 1), device=device) * h_stddev + h_mean
        pitch = torch.randn((batch, 1), device=device) * v_stddev + v_mean
    elif dist == "uniform":
        yaw = (torch.rand((batch, 1), device=device) - 0.5) * 2 * h_stddev + h_mean
        pitch = (torch.rand((batch, 1), device=device) - 0.5) * 2 * v_stddev + v_mean
    elif dist == "truncated_gaussian":
        yaw = _truncated_normal(batch, device) * h_stddev + h_mean
        pitch = _truncated_normal(batch, device) * v_stddev + v_mean
    elif dist == "spherical_uniform":
        yaw = (torch.rand((batch, 1), device=device) - 0.5) * 2 * h_stddev + h_mean
        v = ((torch.rand((batch, 1), device=device) - 0.5) * 2 * v_stddev + v_mean / math.pi).clamp(1e-5, 1 - 1e-5)
        pitch = torch.arccos(1 - 2 * v)
    else:
        yaw = torch.full((batch, 1), float(h_mean), device=device)
        pitch = torch.full((batch, 1), float(v_mean), device=device)
    return yaw, torch.clamp(pitch, PITCH_EPS, math.pi - PITCH_EPS)


def _truncated_normal(batch: int, device) -> torch.Tensor:
    out = torch.empty((batch, 1), device=device)
    torch.nn.init.trunc_normal_(out, 0.0, 1.0, -2.0, 2.0)
    return out


def world_rays(yaw: torch.Tensor, pitch: torch.Tensor, resolution: int, fov_deg: float
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ray origins (B, 3), world directions (B, R*R, 3) and the rotations (B, 3, 3) for a batch of poses."""
    origin = camera_origin(yaw, pitch)
    rotation = look_at_rotation(origin)
    dirs_cam = pixel_directions(resolution, fov_deg, device=origin.device)
    dirs = torch.einsum("bij,nj->bni", rotation, dirs_cam)
    return origin, dirs, rotation
