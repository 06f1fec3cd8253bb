"""Signed distances of the parts of a procedural head, and the head as their (smooth) union.

`part_sdfs(x, y, z, p)` evaluates every part for points given as component tensors and a
`HeadParams` view `p` that broadcasts against them (see HeadParams.per_point / take). Paired
parts (eyes, brows, ears) are built once on |x| and split into left/right labels by the sign of x:
the subject's left (l_eye, l_brow, l_ear) is world +x, which is image right in a frontal view.
"""
from __future__ import annotations

import math

import torch

from models.data.sdf import (capsule, ellipsoid, extrude, length2, rotate, rounded_rect, smax, smin,
                             sphere, torus, box)
from models.labels import ID

Tensor = torch.Tensor

BOX_HALF = 0.12      # everything is clipped to [-BOX_HALF, BOX_HALF]^3: what the generator represents
ABSENT = 1.0         # added to the distance of a part a head does not have

# Part name -> (label for x >= 0, label for x < 0), in the order part_sdfs returns them.
PART_LABELS: dict[str, tuple[int, int]] = {
    "skin": (ID["skin"],) * 2, "nose": (ID["nose"],) * 2, "glasses": (ID["eye_g"],) * 2,
    "eye": (ID["l_eye"], ID["r_eye"]), "brow": (ID["l_brow"], ID["r_brow"]),
    "ear": (ID["l_ear"], ID["r_ear"]), "mouth": (ID["mouth"],) * 2, "u_lip": (ID["u_lip"],) * 2,
    "l_lip": (ID["l_lip"],) * 2, "hair": (ID["hair"],) * 2, "hat": (ID["hat"],) * 2,
    "earring": (ID["ear_r"],) * 2, "necklace": (ID["neck_l"],) * 2, "neck": (ID["neck"],) * 2,
    "cloth": (ID["cloth"],) * 2,
}
EYE_YAW = math.cos(0.35), math.sin(0.35)   # eyes and brows follow the face turning away to the sides


def _ell(x, y, z, c, r) -> Tensor:
    return ellipsoid(x - c[..., 0], y - c[..., 1], z - c[..., 2], r[..., 0], r[..., 1], r[..., 2])


def base_skin(x, y, z, skull_c, skull_r, face_c, face_r, chin_c, chin_r) -> Tensor:
    """The skull, lower face and chin blended into one skin surface (no features)."""
    head = smin(_ell(x, y, z, skull_c, skull_r), _ell(x, y, z, face_c, face_r), 0.05)
    return smin(head, _ell(x, y, z, chin_c, chin_r), 0.015)


def part_sdfs(x: Tensor, y: Tensor, z: Tensor, p) -> dict[str, Tensor]:
    """Raw signed distance of every part (keys and order of PART_LABELS)."""
    xm = x.abs()
    d = {"skin": base_skin(x, y, z, p.skull_c, p.skull_r, p.face_c, p.face_r, p.chin_c, p.chin_r)}
    d["nose"] = _nose(x, y, z, p)
    d["glasses"] = _optional(_glasses, p.has_glasses, xm, y, z, p)
    ex, ez = rotate(xm - p.eye_c[..., 0], z - p.eye_c[..., 2], *EYE_YAW)
    d["eye"] = ellipsoid(ex, y - p.eye_c[..., 1], ez, p.eye_r[..., 0], p.eye_r[..., 1], p.eye_r[..., 2])
    d["brow"] = _brow(xm, y, z, p)
    d["ear"] = _ear(xm, y, z, p)
    d.update(_mouth(x, y, z, p))
    d["hair"] = _optional(_hair, p.has_hair, x, y, z, p)
    d["hat"] = _optional(_hat, p.has_hat, x, y, z, p)
    d["earring"] = _optional(_earring, p.has_earrings, xm, y, z, p)
    d["necklace"] = _optional(_necklace, p.has_necklace, x, y, z, p)
    d["neck"], d["cloth"] = _neck_and_cloth(x, y, z, p)
    return d


def _optional(part, flag: Tensor, x: Tensor, y: Tensor, z: Tensor, p) -> Tensor:
    """A part only some heads have: pushed ABSENT away where the flag is 0, and not evaluated at all
    when no head in view has it (the result is the same: such a part never wins a min)."""
    if not bool(flag.any()):
        return torch.full(torch.broadcast_shapes(x.shape, flag.shape), ABSENT, device=x.device)
    return part(x, y, z, p) + ABSENT * (1 - flag)


def combine(d: dict[str, Tensor], x: Tensor, y: Tensor, z: Tensor) -> Tensor:
    """The head's signed distance: skin-like parts blended, the rest united, clipped to the box."""
    body = smin(smin(d["skin"], d["nose"], 0.004), d["ear"], 0.003)
    body = smin(body, d["neck"], 0.012)
    body = smin(body, torch.minimum(d["u_lip"], d["l_lip"]), 0.002)
    out = body
    for name in ("eye", "brow", "mouth", "hair", "hat", "glasses", "earring", "necklace", "cloth"):
        out = torch.minimum(out, d[name])
    return torch.maximum(out, box(x, y, z, BOX_HALF, BOX_HALF, BOX_HALF))


def head_sdf(x: Tensor, y: Tensor, z: Tensor, p) -> Tensor:
    """Signed distance of the whole head (see combine)."""
    return combine(part_sdfs(x, y, z, p), x, y, z)


def nearest_label(d: dict[str, Tensor], x: Tensor) -> Tensor:
    """The CelebAMask-HQ id of the part nearest to (or deepest around) each point."""
    stacked = torch.stack(list(d.values()), 0)
    index = stacked.argmin(0)
    pos = torch.tensor([PART_LABELS[k][0] for k in d], device=x.device)
    neg = torch.tensor([PART_LABELS[k][1] for k in d], device=x.device)
    return torch.where(x >= 0, pos[index], neg[index])


def _nose(x, y, z, p) -> Tensor:
    root, tip = p.nose_root, p.nose_tip
    ridge = capsule(x, y, z, (root[..., 0], root[..., 1], root[..., 2]),
                    (tip[..., 0], tip[..., 1], tip[..., 2]), 0.0035, p.nose_r)
    alae = ellipsoid(x, y - tip[..., 1] + 0.002, z - tip[..., 2] + 0.007, 1.75 * p.nose_r, 0.85 * p.nose_r, 0.007)
    return smin(ridge, alae, 0.004)


def _brow(xm, y, z, p) -> Tensor:
    c = p.brow_c
    bx, bz = rotate(xm - c[..., 0], z - c[..., 2], *EYE_YAW)
    by = y - c[..., 1] + p.brow_arch * bx * bx - p.brow_tilt * bx
    return ellipsoid(bx, by, bz, p.brow_r[..., 0], p.brow_r[..., 1], p.brow_r[..., 2])


def _ear(xm, y, z, p) -> Tensor:
    c, r = p.ear_c, p.ear_r
    cos, sin = torch.cos(p.ear_flare), torch.sin(p.ear_flare)
    lx, lz = rotate(xm - c[..., 0], z - c[..., 2], cos, sin)
    ly, lz = rotate(y - c[..., 1], lz, math.cos(0.25), math.sin(0.25))
    outer = ellipsoid(lx, ly, lz, r[..., 0], r[..., 1], r[..., 2])
    bowl = ellipsoid(lx - 0.0045, ly + 0.002, lz, 0.003, 0.6 * r[..., 1], 0.55 * r[..., 2])
    return smax(outer, -bowl, 0.002)


def _mouth(x, y, z, p) -> dict[str, Tensor]:
    c, w, h, half_open = p.mouth_c, p.mouth_w, p.lip_h, 0.5 * p.mouth_open
    t = x / w
    dy = y - c[..., 1] - p.smile * t * t
    dz = z - c[..., 2]
    upper = ellipsoid(x, dy - half_open - 0.8 * h, dz + 0.0015, w, h, 0.0065)
    lower = ellipsoid(x, dy + half_open + 0.95 * h, dz + 0.002, 0.92 * w, 1.15 * h, 0.0065)
    sunk = 0.0045 + 0.002 * (1.0 - p.mouth_open / 0.003).clamp_min(0.0)    # hidden behind closed lips
    mouth = ellipsoid(x, dy, dz + sunk, 0.8 * w, half_open + 0.35 * h, 0.006)
    return {"mouth": mouth, "u_lip": upper, "l_lip": lower}


def _hair(x, y, z, p) -> Tensor:
    sc, sr, vol = p.skull_c, p.skull_r, p.hair_vol
    cap = ellipsoid(x, y - sc[..., 1] - 0.4 * vol, z - sc[..., 2] + 0.3 * vol,
                    sr[..., 0] + vol, sr[..., 1] + 0.6 * vol, sr[..., 2] + vol)
    sideburn = 0.015 * torch.exp(-((z - 0.022) / 0.018) ** 2)
    cut = (p.hair_cut + 0.6 * z - sideburn - y) / math.sqrt(1.36)
    hair = smin(smax(cap, cut, 0.008), _optional(_curtain, p.has_curtain, x, y, z, p), 0.01)
    window = ellipsoid(x, y + 0.03 - p.hair_tilt * x, z - 0.10, p.curtain_gap + 0.004, p.hairline + 0.03, 0.115)
    tufts = 0.0012 * torch.sin(150.0 * x + 40.0 * z) * torch.sin(170.0 * y + 60.0 * x) * torch.sin(130.0 * z)
    return smax(hair, -window, 0.004) + tufts


def _curtain(x, y, z, p) -> Tensor:
    """Long hair: a sleeve around and behind the head down to curtain_bottom, open in front of the face."""
    sc, sr, vol = p.skull_c, p.skull_r, p.hair_vol
    top = sc[..., 1]
    spread = sr[..., 0] + vol + 0.004 + 0.15 * (top - y).clamp_min(0.0)
    ring = _ellipse(x, z - sc[..., 2] + 0.004, spread, sr[..., 2] + 0.6 * vol)
    span = torch.maximum(p.curtain_bottom - y, y - top)
    sleeve = length2(ring.clamp_min(0.0), span.clamp_min(0.0)) + torch.maximum(ring, span).clamp_max(0.0)
    return smax(sleeve, -_ellipse(x, z - 0.075, p.curtain_gap, 0.08), 0.004)


def _ellipse(a, b, ra, rb) -> Tensor:
    """2D ellipse bound in the (a, b) plane."""
    pa, pb = a / ra, b / rb
    k0 = length2(pa, pb)
    k1 = length2(pa / ra, pb / rb).clamp_min(1e-6)
    return k0 * (k0 - 1.0) / k1


def _hat(x, y, z, p) -> Tensor:
    sc, sr, vol = p.skull_c, p.skull_r, p.hair_vol
    dome = ellipsoid(x, y - sc[..., 1] - 0.4 * vol, z - sc[..., 2] + 0.3 * vol,
                     sr[..., 0] + vol + 0.005, sr[..., 1] + 0.6 * vol + 0.004, sr[..., 2] + vol + 0.005)
    brim_y = p.hairline - 0.002
    hat = smax(dome, (brim_y + 0.4 * z - 0.03 - y) / math.sqrt(1.16), 0.003)
    front = sc[..., 2] + sr[..., 2] + vol
    vy, vz = rotate(y - brim_y - 0.004, z - front - 0.012, math.cos(0.25), math.sin(0.25))
    visor = ellipsoid(x, vy, vz, 0.05, 0.0025, 0.026) + ABSENT * (1 - p.hat_visor)
    return torch.minimum(hat, visor)


def _glasses(xm, y, z, p) -> Tensor:
    ex, ey, ez = p.eye_c[..., 0], p.eye_c[..., 1] + 0.001, p.eye_c[..., 2] + 0.016
    gw, gh = p.glasses_r[..., 0], p.glasses_r[..., 1]
    rim = rounded_rect(xm - ex, y - ey, gw, gh, 0.6 * gh)
    frame = extrude(rim.abs() - 0.0017, z - ez, 0.0014)
    lens = extrude(rim, z - ez, 0.0007) + ABSENT * (1 - p.sunglasses)
    bridge = capsule(xm, y, z, (ex - gw + 0.001, ey + 0.4 * gh, ez), (0.0, ey + 0.45 * gh, ez + 0.001), 0.0016)
    hinge = (ex + gw + 0.002, ey + 0.4 * gh, ez - 0.004)
    arm = torch.minimum(capsule(xm, y, z, (ex + gw - 0.001, ey + 0.4 * gh, ez), hinge, 0.0014),
                        capsule(xm, y, z, hinge, (p.temple_x, ey + 0.003, -0.006), 0.0014))
    return torch.minimum(torch.minimum(frame, lens), torch.minimum(bridge, arm))


def _earring(xm, y, z, p) -> Tensor:
    c, r = p.ear_c, p.ear_r
    lobe_y = c[..., 1] - 0.85 * r[..., 1]
    drop_y = lobe_y - 0.003 - p.earring_r
    ball = sphere(xm - c[..., 0] - 0.001, y - drop_y, z - c[..., 2] - 0.002, p.earring_r)
    link = capsule(xm, y, z, (c[..., 0] + 0.001, lobe_y, c[..., 2] + 0.002),
                   (c[..., 0] + 0.001, drop_y, c[..., 2] + 0.002), 0.0008)
    return torch.minimum(ball, link)


def _necklace(x, y, z, p) -> Tensor:
    ny, nz, major = p.shoulder_y + 0.012, -0.014, p.neck_r + 0.007
    tilt = 0.45
    ly, lz = rotate(y - ny, z - nz, math.cos(tilt), -math.sin(tilt))
    chain = torus(x, ly, lz, major, 0.0017)
    pend_y = ny - major * math.sin(tilt) - 0.004
    pendant = sphere(x, y - pend_y, z - nz - major * math.cos(tilt) - 0.002, 0.0033)
    return torch.minimum(chain, pendant)


def _neck_and_cloth(x, y, z, p) -> tuple[Tensor, Tensor]:
    fc = p.face_c
    zero = torch.zeros_like(p.neck_r)
    neck = capsule(x, y, z, (zero, fc[..., 1] - 0.01, zero - 0.014), (zero, p.shoulder_y - 0.03, zero - 0.016),
                   p.neck_r)
    torso = ellipsoid(x, y - p.shoulder_y + 0.075, z + 0.012, p.shoulder_w, 0.08, 0.06)
    neck = smin(neck, torso, 0.025)
    around = length2(x, z + 0.014) - p.neck_r - 0.010
    v_cut = torch.maximum((p.shoulder_y - 0.018 + 1.6 * x.abs() - y) / math.sqrt(3.56), -z)
    cut = torch.where(p.neckline == 1, torch.minimum(around, v_cut), around)
    cloth = smax(torso - 0.0025, -cut, 0.002)
    collar = capsule(x, y, z, (zero, p.shoulder_y - 0.02, zero - 0.015), (zero, fc[..., 1] - 0.05, zero - 0.013),
                     p.neck_r + 0.003)
    cloth = torch.where(p.neckline == 2, torch.minimum(torso - 0.0025, collar), cloth)
    return neck, cloth
