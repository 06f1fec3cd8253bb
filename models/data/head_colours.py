"""Colours of the procedural heads: a function of the appearance latents only.

`colours(u)` maps uniformised appearance latents (B, APP_DIMS) to one albedo per label
(`part_rgb`, (B, 19, 3), sRGB in [0, 1]) plus the iris, sunglass-lens and texture-phase values.
"""
from __future__ import annotations

import math

import torch

from models.labels import ID, NUM_CLASSES

Tensor = torch.Tensor

# What each leading z_app dimension controls, in order.
APP_NAMES = (
    "skin_tone", "skin_warmth", "hair_colour", "hair_shade", "dye_hue", "brow_shade",
    "lip_colour", "lipstick", "iris", "cloth_hue", "cloth_saturation", "cloth_value",
    "hat_hue", "hat_value", "glasses_colour", "jewel_metal", "texture_phase",
)

SKIN_RAMP = ((0.97, 0.84, 0.75), (0.93, 0.75, 0.63), (0.82, 0.61, 0.47), (0.66, 0.46, 0.33),
             (0.45, 0.30, 0.21), (0.30, 0.20, 0.15))
# (probability, colour); the last entry ("dyed") takes its hue from `dye_hue`.
HAIR = ((0.27, (0.07, 0.06, 0.06)), (0.24, (0.21, 0.14, 0.09)), (0.16, (0.40, 0.26, 0.15)),
        (0.15, (0.80, 0.66, 0.42)), (0.07, (0.56, 0.23, 0.11)), (0.06, (0.70, 0.69, 0.68)),
        (0.05, None))
IRIS = ((0.35, (0.33, 0.19, 0.09)), (0.25, (0.17, 0.10, 0.06)), (0.15, (0.30, 0.50, 0.76)),
        (0.10, (0.33, 0.50, 0.30)), (0.10, (0.50, 0.40, 0.20)), (0.05, (0.50, 0.55, 0.58)))
LIPSTICK = ((0.25, (0.72, 0.10, 0.16)), (0.25, (0.86, 0.42, 0.52)), (0.25, (0.74, 0.45, 0.40)),
            (0.25, (0.50, 0.12, 0.26)))
FRAMES = ((0.45, (0.05, 0.05, 0.05)), (0.2, (0.28, 0.16, 0.08)), (0.15, (0.80, 0.65, 0.30)),
          (0.15, (0.75, 0.75, 0.78)), (0.05, (0.62, 0.10, 0.12)))
METALS = ((0.45, (0.88, 0.70, 0.30)), (0.40, (0.82, 0.82, 0.86)), (0.15, (0.94, 0.91, 0.86)))
SCLERA = (0.93, 0.91, 0.87)
MOUTH = (0.36, 0.09, 0.10)


def colours(columns: Tensor) -> dict[str, Tensor]:
    """Albedos from the uniformised appearance latents (B, APP_DIMS)."""
    u = dict(zip(APP_NAMES, columns.unbind(1)))
    batch = columns.shape[0]
    warmth = (u["skin_warmth"] - 0.5) * 0.07
    skin = _ramp(u["skin_tone"] ** 1.6, SKIN_RAMP) + torch.stack([warmth, 0.2 * warmth, -warmth], -1)
    dyed = _hsv(u["dye_hue"], torch.full_like(u["dye_hue"], 0.55), torch.full_like(u["dye_hue"], 0.6))
    hair = _choose(u["hair_colour"], HAIR, fallback=dyed) * _lerp(0.8, 1.2, u["hair_shade"])[:, None]
    brow = torch.lerp(hair, torch.tensor([0.16, 0.11, 0.08]), 0.5 * (hair.mean(-1, keepdim=True) > 0.3))
    brow = brow * _lerp(0.55, 0.95, u["brow_shade"])[:, None]
    natural_lip = skin * torch.tensor([0.86, 0.56, 0.56])
    lip = torch.lerp(natural_lip, _choose(u["lip_colour"], LIPSTICK), (u["lipstick"] ** 2)[:, None])
    cloth = _hsv(u["cloth_hue"], 0.85 * u["cloth_saturation"] ** 1.5, _lerp(0.10, 0.90, u["cloth_value"]))
    hat = _hsv(u["hat_hue"], torch.full_like(u["hat_hue"], 0.6), _lerp(0.15, 0.85, u["hat_value"]))
    metal = _choose(u["jewel_metal"], METALS)

    part = torch.zeros(batch, NUM_CLASSES, 3)
    const = {"l_eye": SCLERA, "r_eye": SCLERA, "mouth": MOUTH}
    for name, rgb in const.items():
        part[:, ID[name]] = torch.tensor(rgb)
    part[:, ID["skin"]] = skin
    part[:, ID["nose"]] = skin * torch.tensor([1.02, 0.97, 0.96])
    part[:, ID["eye_g"]] = _choose(u["glasses_colour"], FRAMES)
    part[:, ID["l_brow"]] = brow
    part[:, ID["r_brow"]] = brow
    part[:, ID["l_ear"]] = skin * torch.tensor([1.0, 0.93, 0.92])
    part[:, ID["r_ear"]] = part[:, ID["l_ear"]]
    part[:, ID["u_lip"]] = lip * 0.92
    part[:, ID["l_lip"]] = lip
    part[:, ID["hair"]] = hair
    part[:, ID["hat"]] = hat
    part[:, ID["ear_r"]] = metal
    part[:, ID["neck_l"]] = metal
    part[:, ID["neck"]] = skin * 0.94
    part[:, ID["cloth"]] = cloth
    lens = _hsv(u["glasses_colour"], torch.full((batch,), 0.3), torch.full((batch,), 0.12))
    phase = 2 * math.pi * torch.stack([u["texture_phase"], torch.frac(7.0 * u["texture_phase"]),
                                       torch.frac(13.0 * u["texture_phase"])], -1)
    return {"part_rgb": part.clamp(0.0, 1.0), "iris_rgb": _choose(u["iris"], IRIS), "lens_rgb": lens,
            "noise_phase": phase}


def _lerp(lo: float, hi: float, t: Tensor) -> Tensor:
    return lo + (hi - lo) * t


def _ramp(t: Tensor, anchors) -> Tensor:
    """Piecewise-linear colour ramp through `anchors` for t in [0, 1]."""
    table = torch.tensor(anchors)
    pos = t.clamp(0.0, 1.0) * (len(anchors) - 1)
    lo = pos.floor().long().clamp(max=len(anchors) - 2)
    return torch.lerp(table[lo], table[lo + 1], (pos - lo)[:, None])


def _choose(u: Tensor, options, fallback: Tensor | None = None) -> Tensor:
    """Pick one colour per row from (probability, colour) options; None picks `fallback`."""
    edges = torch.cumsum(torch.tensor([p for p, _ in options]), 0)[:-1]
    index = torch.bucketize(u.contiguous(), edges)
    out = torch.zeros(u.shape[0], 3)
    for k, (_, rgb) in enumerate(options):
        value = fallback if rgb is None else torch.tensor(rgb).expand_as(out)
        out = torch.where((index == k)[:, None], value, out)
    return out


def _hsv(h: Tensor, s: Tensor, v: Tensor) -> Tensor:
    """HSV (each (B,) in [0, 1]) to RGB (B, 3)."""
    k = torch.tensor([5.0, 3.0, 1.0])
    n = torch.remainder(k + 6.0 * h[:, None], 6.0)
    weight = torch.minimum(n, 4.0 - n).clamp(0.0, 1.0)
    return v[:, None] * (1.0 - s[:, None] * weight)
