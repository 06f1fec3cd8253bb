"""Analytic signed-distance primitives on coordinate components.

Every function takes the point components x, y, z as separate tensors of one leading shape and
parameters that broadcast against them, and returns a signed distance (negative inside). Working
on components keeps the procedural heads cheap: no (..., 3) temporaries and no reductions.
Some primitives (ellipsoids, tapered capsules, bent shapes) are bounds rather than exact
distances; the sphere tracer takes conservative steps for that reason.
"""
from __future__ import annotations

import torch

Tensor = torch.Tensor


def length2(a: Tensor, b: Tensor) -> Tensor:
    return torch.sqrt(a * a + b * b)


def length3(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    return torch.sqrt(a * a + b * b + c * c)


def ellipsoid(x: Tensor, y: Tensor, z: Tensor, rx, ry, rz) -> Tensor:
    """Centred axis-aligned ellipsoid with radii (rx, ry, rz) (Quilez's first-order bound)."""
    ax, ay, az = x / rx, y / ry, z / rz
    k0 = length3(ax, ay, az)
    k1 = length3(ax / rx, ay / ry, az / rz).clamp_min(1e-6)
    return k0 * (k0 - 1.0) / k1


def sphere(x: Tensor, y: Tensor, z: Tensor, r) -> Tensor:
    return length3(x, y, z) - r


def capsule(x: Tensor, y: Tensor, z: Tensor, a: tuple, b: tuple, r0, r1=None) -> Tensor:
    """Segment a -> b (component tuples) with radius r0 at a, tapering linearly to r1 at b."""
    bx, by, bz = b[0] - a[0], b[1] - a[1], b[2] - a[2]
    px, py, pz = x - a[0], y - a[1], z - a[2]
    h = ((px * bx + py * by + pz * bz) / (bx * bx + by * by + bz * bz)).clamp(0.0, 1.0)
    radius = r0 if r1 is None else r0 + (r1 - r0) * h
    return length3(px - bx * h, py - by * h, pz - bz * h) - radius


def torus(x: Tensor, y: Tensor, z: Tensor, major, minor) -> Tensor:
    """Ring of radius `major` in the xz plane, tube radius `minor`."""
    return length2(length2(x, z) - major, y) - minor


def rounded_rect(x: Tensor, y: Tensor, hx, hy, corner) -> Tensor:
    """2D signed distance to a rectangle of half sizes (hx, hy) with rounded corners."""
    qx = x.abs() - hx + corner
    qy = y.abs() - hy + corner
    outside = length2(qx.clamp_min(0.0), qy.clamp_min(0.0))
    return outside + torch.maximum(qx, qy).clamp_max(0.0) - corner


def extrude(d2: Tensor, z: Tensor, half_depth) -> Tensor:
    """Extrude a 2D distance d2 along z to a slab of half thickness half_depth."""
    wz = z.abs() - half_depth
    return length2(d2.clamp_min(0.0), wz.clamp_min(0.0)) + torch.maximum(d2, wz).clamp_max(0.0)


def box(x: Tensor, y: Tensor, z: Tensor, hx, hy, hz) -> Tensor:
    qx, qy, qz = x.abs() - hx, y.abs() - hy, z.abs() - hz
    outside = length3(qx.clamp_min(0.0), qy.clamp_min(0.0), qz.clamp_min(0.0))
    return outside + torch.maximum(torch.maximum(qx, qy), qz).clamp_max(0.0)


def smin(a: Tensor, b: Tensor, k) -> Tensor:
    """Polynomial smooth union with blend radius k."""
    h = (k - (a - b).abs()).clamp_min(0.0) / k
    return torch.minimum(a, b) - h * h * k * 0.25


def smax(a: Tensor, b: Tensor, k) -> Tensor:
    """Polynomial smooth intersection with blend radius k (smooth subtraction: smax(a, -b, k))."""
    return -smin(-a, -b, k)


def rotate(a: Tensor, b: Tensor, cos, sin) -> tuple[Tensor, Tensor]:
    """Rotate the pair (a, b) by the angle with the given cosine and sine."""
    return a * cos - b * sin, a * sin + b * cos
