"""Parameters of B procedural heads as tensors, derived from two standard-normal latent vectors.

Shape parameters are a function of z_geo only and colours a function of z_app only: each used
latent dimension goes through the normal CDF into (0, 1) and then into a range (or through a
threshold for discrete options). Lengths are world units (the head lives in [-0.12, 0.12]^3,
face towards +z, +y up, the subject's left on +x).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from models.data import head_colours
from models.data.head_shape import base_skin

Tensor = torch.Tensor

# What each leading latent dimension controls, in order (longer latents are accepted; the rest is ignored).
GEO_NAMES = (
    "head_width", "head_height", "head_depth", "face_length", "jaw_width", "chin",
    "eye_size", "eye_spacing", "eye_height", "eye_openness",
    "brow_height", "brow_length", "brow_thickness", "brow_arch", "brow_tilt",
    "nose_length", "nose_width", "nose_height", "mouth_height", "mouth_width", "mouth_open", "smile",
    "lip_thickness", "ear_size", "ear_flare",
    "hair_length", "hair_volume", "hairline", "hair_part", "hair_gap",
    "neck_width", "shoulders", "neckline",
    "glasses", "sunglasses", "glasses_width", "glasses_height", "hat", "hat_visor",
    "earrings", "earring_size", "necklace",
)
GEO_DIMS = len(GEO_NAMES)
APP_DIMS = len(head_colours.APP_NAMES)


class TensorRecord:
    """A dataclass of tensors whose first dimension is the batch, with broadcasting views.

    `per_point()` lets the record broadcast against points of shape (B, N, 3) and `take(index)`
    against flat points (M, 3) belonging to heads `index`: in both views a scalar field matches
    the points' leading shape and a vector field adds its trailing size.
    """

    def map(self, fn):
        return type(self)(**{f.name: fn(getattr(self, f.name)) for f in dataclasses.fields(self)})

    def take(self, index: Tensor):
        """Rows `index` of every tensor."""
        return self.map(lambda t: t[index])

    def per_point(self):
        """A view that broadcasts against points of shape (B, N, 3)."""
        return self.map(lambda t: t[:, None])

    def to(self, device):
        return self.map(lambda t: t.to(device))


@dataclass
class HeadShape(TensorRecord):
    """Geometry of B heads: (B,) scalars and (B, 3) vectors; flags are 0/1 floats."""

    # skin: skull and lower-face ellipsoids, chin
    skull_c: Tensor
    skull_r: Tensor
    face_c: Tensor
    face_r: Tensor
    chin_c: Tensor
    chin_r: Tensor
    # eyes, brows (centres on the +x side; the -x side is mirrored)
    eye_c: Tensor
    eye_r: Tensor
    brow_c: Tensor
    brow_r: Tensor
    brow_arch: Tensor
    brow_tilt: Tensor
    # nose
    nose_root: Tensor
    nose_tip: Tensor
    nose_r: Tensor
    # mouth and lips
    mouth_c: Tensor
    mouth_w: Tensor
    mouth_open: Tensor
    smile: Tensor
    lip_h: Tensor
    # ears
    ear_c: Tensor
    ear_r: Tensor
    ear_flare: Tensor
    # hair
    has_hair: Tensor
    hair_vol: Tensor
    hairline: Tensor
    hair_tilt: Tensor
    hair_cut: Tensor
    has_curtain: Tensor
    curtain_bottom: Tensor
    curtain_gap: Tensor
    # neck, body, cloth
    neck_r: Tensor
    shoulder_y: Tensor
    shoulder_w: Tensor
    neckline: Tensor
    # accessories (flags are 0/1 floats)
    has_glasses: Tensor
    sunglasses: Tensor
    glasses_r: Tensor
    temple_x: Tensor
    has_hat: Tensor
    hat_visor: Tensor
    has_earrings: Tensor
    earring_r: Tensor
    has_necklace: Tensor


@dataclass
class HeadLook(TensorRecord):
    """Appearance of B heads: an albedo per label and a few painted details."""

    part_rgb: Tensor      # (B, 19, 3)
    iris_rgb: Tensor      # (B, 3)
    lens_rgb: Tensor      # (B, 3) sunglass lenses
    noise_phase: Tensor   # (B, 3) phases of the low-frequency colour variation


@dataclass
class HeadParams(TensorRecord):
    """B heads: their latents, the shape (from z_geo only) and the look (from z_app only)."""

    z_geo: Tensor
    z_app: Tensor
    shape: HeadShape
    look: HeadLook

    @property
    def batch(self) -> int:
        return self.z_geo.shape[0]

    def map(self, fn) -> "HeadParams":
        return HeadParams(fn(self.z_geo), fn(self.z_app), self.shape.map(fn), self.look.map(fn))

    @staticmethod
    def sample(batch: int, generator: torch.Generator, geo_dim: int = GEO_DIMS,
               app_dim: int = APP_DIMS) -> "HeadParams":
        """Draw standard-normal latents (B, geo_dim) and (B, app_dim) with `generator`; build the heads."""
        z_geo = torch.randn((batch, geo_dim), generator=generator)
        z_app = torch.randn((batch, app_dim), generator=generator)
        return HeadParams.from_latents(z_geo, z_app)

    @staticmethod
    def from_latents(z_geo: Tensor, z_app: Tensor) -> "HeadParams":
        """Deterministic heads from latents (B, >=GEO_DIMS) and (B, >=APP_DIMS), built on the CPU
        (move them with .to(device))."""
        if z_geo.ndim != 2 or z_geo.shape[1] < GEO_DIMS:
            raise ValueError(f"z_geo must be (B, >={GEO_DIMS}), got {tuple(z_geo.shape)}")
        if z_app.ndim != 2 or z_app.shape[1] < APP_DIMS or z_app.shape[0] != z_geo.shape[0]:
            raise ValueError(f"z_app must be (B, >={APP_DIMS}) with z_geo's batch, got {tuple(z_app.shape)}")
        z_geo, z_app = z_geo.detach().float().cpu(), z_app.detach().float().cpu()
        shape = HeadShape(**_geometry(torch.special.ndtr(z_geo[:, :GEO_DIMS])))
        look = HeadLook(**head_colours.colours(torch.special.ndtr(z_app[:, :APP_DIMS])))
        return HeadParams(z_geo, z_app, shape, look)


def _lerp(lo: float, hi: float, u: Tensor) -> Tensor:
    return lo + (hi - lo) * u


def _vec(x, y, z) -> Tensor:
    parts = torch.broadcast_tensors(*(torch.as_tensor(v, dtype=torch.float32) for v in (x, y, z)))
    return torch.stack(parts, -1)


def _geometry(columns: Tensor) -> dict[str, Tensor]:
    """All shape parameters from the uniformised geometry latents (B, GEO_DIMS)."""
    u = dict(zip(GEO_NAMES, columns.unbind(1)))
    zeros = torch.zeros(columns.shape[0])
    g = {}
    g["skull_r"] = _vec(_lerp(0.067, 0.075, u["head_width"]), _lerp(0.083, 0.090, u["head_height"]),
                        _lerp(0.084, 0.092, u["head_depth"]))
    g["skull_c"] = _vec(zeros, 0.015, -0.012)
    face_len = _lerp(0.064, 0.073, u["face_length"])
    face_w = _lerp(0.058, 0.067, u["jaw_width"])
    g["face_r"] = _vec(face_w, face_len, 0.074)
    g["face_c"] = _vec(zeros, -0.030, 0.006)
    g["chin_r"] = _vec(_lerp(0.016, 0.024, u["chin"]), 0.015, 0.024)
    g["chin_c"] = _vec(zeros, -0.030 - 0.82 * face_len, _lerp(0.040, 0.050, u["chin"]))
    skin = {k: g[k] for k in ("skull_c", "skull_r", "face_c", "face_r", "chin_c", "chin_r")}

    eye_w = _lerp(0.0098, 0.0128, u["eye_size"])
    ex, ey = _lerp(0.0275, 0.0325, u["eye_spacing"]), _lerp(0.002, 0.011, u["eye_height"])
    g["eye_r"] = _vec(eye_w, eye_w * _lerp(0.48, 0.62, u["eye_openness"]), 0.0075)
    g["eye_c"] = _vec(ex, ey, _surface_z(skin, ex, ey) - 0.0030)
    brow_dy = _lerp(0.011, 0.016, u["brow_height"])
    g["brow_r"] = _vec(_lerp(0.0125, 0.0160, u["brow_length"]), _lerp(0.0028, 0.0045, u["brow_thickness"]),
                       0.004)
    bx = ex + 0.002
    g["brow_c"] = _vec(bx, ey + brow_dy, _surface_z(skin, bx, ey + brow_dy) - 0.0015)
    g["brow_arch"] = _lerp(4.0, 28.0, u["brow_arch"])
    g["brow_tilt"] = _lerp(-0.10, 0.20, u["brow_tilt"])

    tip_y = ey - _lerp(0.032, 0.039, u["nose_length"])
    g["nose_r"] = _lerp(0.0060, 0.0090, u["nose_width"])
    g["nose_root"] = _vec(zeros, ey + 0.003, _surface_z(skin, 0.0, ey + 0.003) - 0.0028)
    g["nose_tip"] = _vec(zeros, tip_y, _surface_z(skin, 0.0, tip_y) + _lerp(0.008, 0.013, u["nose_height"]))

    my = tip_y - _lerp(0.025, 0.032, u["mouth_height"])
    g["mouth_c"] = _vec(zeros, my, _surface_z(skin, 0.0, my))
    g["mouth_w"] = _lerp(0.019, 0.025, u["mouth_width"])
    g["mouth_open"] = ((u["mouth_open"] - 0.45) / 0.55).clamp_min(0.0) * 0.010
    g["smile"] = _lerp(-0.0015, 0.0045, u["smile"])
    g["lip_h"] = _lerp(0.0030, 0.0048, u["lip_thickness"])

    ear_y, ear_z = ey - 0.014, zeros - 0.010
    g["ear_r"] = _vec(0.0045, _lerp(0.018, 0.023, u["ear_size"]), _lerp(0.010, 0.013, u["ear_size"]))
    g["ear_c"] = _vec(_surface_x(skin, ear_y, ear_z) + 0.003, ear_y, ear_z)
    g["ear_flare"] = _lerp(0.35, 0.70, u["ear_flare"])

    length = u["hair_length"]
    long_hair = (length > 0.40).float()
    g["has_hair"] = (length > 0.03).float()
    g["hair_vol"] = _lerp(0.003, 0.010, u["hair_volume"]) + 0.007 * long_hair
    g["hairline"] = _lerp(0.030, 0.080, u["hairline"])
    g["hair_tilt"] = _lerp(-0.25, 0.25, u["hair_part"])
    g["has_curtain"] = long_hair
    g["hair_cut"] = ey + 0.018 - 0.035 * long_hair
    g["curtain_bottom"] = torch.where(length > 0.65, _lerp(-0.20, -0.09, (length - 0.65) / 0.35),
                                      _lerp(-0.09, -0.05, (length - 0.40) / 0.25))
    g["curtain_gap"] = face_w + _lerp(-0.008, 0.002, u["hair_gap"])

    g["neck_r"] = _lerp(0.027, 0.034, u["neck_width"])
    g["shoulder_y"] = _lerp(-0.112, -0.098, u["shoulders"])
    g["shoulder_w"] = _lerp(0.130, 0.160, u["shoulders"])
    g["neckline"] = (u["neckline"] > 0.45).float() + (u["neckline"] > 0.8).float()   # 0 crew, 1 V, 2 collar

    g["has_glasses"] = (u["glasses"] > 0.86).float()
    g["sunglasses"] = (u["sunglasses"] > 0.7).float()
    g["glasses_r"] = _vec(_lerp(0.012, 0.016, u["glasses_width"]), _lerp(0.0085, 0.0115, u["glasses_height"]),
                          0.0)
    g["temple_x"] = _surface_x(skin, ey + 0.004, zeros - 0.004) + 0.003
    g["has_hat"] = (u["hat"] > 0.88).float()
    g["hat_visor"] = (u["hat_visor"] > 0.5).float()
    g["has_earrings"] = (u["earrings"] > 0.84).float()
    g["earring_r"] = _lerp(0.0028, 0.0042, u["earring_size"])
    g["has_necklace"] = (u["necklace"] > 0.86).float()
    return g


def _surface_z(skin: dict, x, y, iterations: int = 22) -> Tensor:
    """Depth z of the front of the base skin at (x, y), by bisection between z = 0 and 0.12."""
    x, y = torch.broadcast_tensors(torch.as_tensor(x, dtype=torch.float32),
                                   torch.as_tensor(y, dtype=torch.float32))
    lo, hi = torch.zeros_like(x), torch.full_like(x, 0.12)
    return _bisect(lambda t: base_skin(x, y, t, **skin), lo, hi, iterations)


def _surface_x(skin: dict, y, z, iterations: int = 22) -> Tensor:
    """Side position x > 0 of the base skin surface at (y, z)."""
    y, z = torch.broadcast_tensors(torch.as_tensor(y, dtype=torch.float32),
                                   torch.as_tensor(z, dtype=torch.float32))
    lo, hi = torch.zeros_like(y), torch.full_like(y, 0.12)
    return _bisect(lambda t: base_skin(t, y, z, **skin), lo, hi, iterations)


def _bisect(sdf, inside: Tensor, outside: Tensor, iterations: int) -> Tensor:
    for _ in range(iterations):
        mid = 0.5 * (inside + outside)
        is_in = sdf(mid) < 0
        inside = torch.where(is_in, mid, inside)
        outside = torch.where(is_in, outside, mid)
    return 0.5 * (inside + outside)
