"""Fast analytic rendering of the procedural heads: sphere tracing with the pi-GAN camera.

Rays are those of `models.render.camera.world_rays` (pixel centres, row-major from the top-left);
a ray hits where the head's distance vanishes between the near and far planes, the pixel takes
the field's label and lit colour at that point, and every other pixel is black background.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import NamedTuple

import torch

from models.data.head_field import evaluate
from models.data.head_params import HeadParams
from models.data.head_shape import BOX_HALF, head_sdf
from models.render.camera import FRONT, PITCH_EPS, world_rays

Tensor = torch.Tensor

FOV_DEG = 12.0
RAY_START, RAY_END = 0.88, 1.12
POSE_STDDEV = (0.3, 0.155)     # yaw, pitch: the training pose distribution (spec 4.3)
STEP_SCALE = 0.9               # conservative sphere-tracing steps: some primitives are bounds
HIT_FRACTION = 0.3             # hit when the distance is below this fraction of the pixel footprint
ROUND_STEPS = (6, 6, 6, 6, 8, 8)
# Mean frontal image positions (fractions of the side: x right, y down) of the image-left eye,
# the image-right eye and the mouth centre over 20000 random heads (see frontal_landmarks). The
# head proportions were tuned so that they match a CelebA-HQ-aligned portrait's model frame (spec
# 9.2: eyes near (0.344, 0.468) and (0.656, 0.468), mouth near (0.5, 0.796)).
DEMO_FRAMING_LANDMARKS = ((0.3443, 0.4663), (0.6557, 0.4663), (0.5000, 0.7979))


@contextmanager
def single_thread():
    """Run torch on one intra-op thread inside the block, restoring the setting afterwards.

    The tracer issues thousands of small element-wise ops; extra intra-op threads only add
    synchronisation (several times slower on a busy 2-core machine). Parallelise with processes.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class Trace(NamedTuple):
    points: Tensor   # (B, R*R, 3) world hit points (the last march position where there is no hit)
    hit: Tensor      # (B, R*R) bool
    depth: Tensor    # (B, R*R) distance from the camera along the unit ray


def sample_head_poses(batch: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """(yaw, pitch) each (B,) from the training distribution (gaussian around the front)."""
    normal = torch.randn((batch, 2), generator=generator)
    yaw = FRONT + POSE_STDDEV[0] * normal[:, 0]
    pitch = (FRONT + POSE_STDDEV[1] * normal[:, 1]).clamp(PITCH_EPS, math.pi - PITCH_EPS)
    return yaw, pitch


def trace_heads(params: HeadParams, yaw: Tensor, pitch: Tensor, resolution: int,
                fov: float = FOV_DEG) -> Trace:
    """Sphere-trace B heads from B poses (yaw, pitch in radians, shape (B,)).

    A ray hits where the distance falls below HIT_FRACTION of its pixel footprint. Rays are
    marched in rounds; after each round the finished ones (hit, or past the far end of the box)
    are dropped, so late rounds only pay for the rays still creeping along silhouettes. The
    first round runs on the (B, R*R) layout, where the head parameters broadcast cheaply.
    """
    with torch.inference_mode(), single_thread():
        return _trace(params, yaw, pitch, resolution, fov)


def _trace(params: HeadParams, yaw: Tensor, pitch: Tensor, resolution: int, fov: float) -> Trace:
    origin, dirs, _ = world_rays(yaw.reshape(-1), pitch.reshape(-1), resolution, fov)
    batch, rays = dirs.shape[:2]
    o = origin[:, None, :].expand_as(dirs)
    t, t_end = box_span(o, dirs)
    cone = HIT_FRACTION * 2 * math.tan(math.radians(fov) / 2) / max(resolution - 1, 1)
    t, dist, moving = _march(o, dirs, t, t_end, params.shape.per_point(), ROUND_STEPS[0], cone)
    o, d, t, t_end, dist = o.reshape(-1, 3), dirs.reshape(-1, 3), t.reshape(-1), t_end.reshape(-1), dist.reshape(-1)
    index = moving.reshape(-1).nonzero().squeeze(1)
    for steps in ROUND_STEPS[1:]:
        if index.numel() == 0:
            break
        view = params.shape.take(index // rays)
        t[index], dist[index], moving = _march(o[index], d[index], t[index], t_end[index], view, steps, cone)
        index = index[moving]
    hit = (dist <= 2 * cone * t) & (t < t_end)
    return Trace((o + d * t[:, None]).reshape(batch, rays, 3), hit.reshape(batch, rays), t.reshape(batch, rays))


def _march(o: Tensor, d: Tensor, t: Tensor, t_end: Tensor, view, steps: int, cone: float
           ) -> tuple[Tensor, Tensor, Tensor]:
    """`steps` sphere-tracing steps; returns depths, last distances and which rays still move."""
    for _ in range(steps):
        p = o + d * t[..., None]
        dist = head_sdf(p[..., 0], p[..., 1], p[..., 2], view)
        moving = (dist > cone * t) & (t < t_end)
        t = torch.where(moving, t + STEP_SCALE * dist, t)
    return t, dist, moving


def box_span(o: Tensor, d: Tensor) -> tuple[Tensor, Tensor]:
    """Where each ray enters and leaves the head box, limited to the near/far planes."""
    inv = 1.0 / torch.where(d.abs() < 1e-9, torch.full_like(d, 1e-9), d)
    t0, t1 = (-BOX_HALF - o) * inv, (BOX_HALF - o) * inv
    near = torch.minimum(t0, t1).amax(-1).clamp_min(RAY_START)
    far = torch.maximum(t0, t1).amin(-1).clamp_max(RAY_END)
    return near, far


def render_heads(params: HeadParams, yaw: Tensor, pitch: Tensor, resolution: int,
                 fov: float = FOV_DEG) -> tuple[Tensor, Tensor]:
    """Images (B, 3, R, R) float in [0, 1] and ID masks (B, R, R) uint8, black background."""
    with torch.inference_mode(), single_thread():
        return shade_trace(params, _trace(params, yaw, pitch, resolution, fov), resolution)


def shade_trace(params: HeadParams, trace: Trace, resolution: int) -> tuple[Tensor, Tensor]:
    """Images and masks from a trace: the field's lit colour and label at every hit, black elsewhere."""
    batch, device = params.batch, trace.points.device
    images = torch.zeros(batch, resolution * resolution, 3, device=device)
    masks = torch.zeros(batch, resolution * resolution, dtype=torch.uint8, device=device)
    head, ray = trace.hit.nonzero(as_tuple=True)
    if head.numel():
        p = trace.points[head, ray]
        sample = evaluate(p[:, 0], p[:, 1], p[:, 2], params.take(head))
        images[head, ray] = sample.rgb
        masks[head, ray] = sample.label.to(torch.uint8)
    images = images.reshape(batch, resolution, resolution, 3).permute(0, 3, 1, 2).contiguous()
    return images, masks.reshape(batch, resolution, resolution)


def frontal_landmarks(params: HeadParams, fov: float = FOV_DEG) -> Tensor:
    """(B, 3, 2) frontal image positions of [image-left eye (r_eye), image-right eye (l_eye), mouth].

    Fractions of the image side, x to the right and y down, (0, 0) and (1, 1) being the centres
    of the top-left and bottom-right pixels (the camera of spec 4.1 at yaw = pitch = pi/2).
    """
    eye = params.shape.eye_c
    eye_front = eye[:, 2] + params.shape.eye_r[:, 2]
    mouth = params.shape.mouth_c
    x = torch.stack([-eye[:, 0], eye[:, 0], torch.zeros_like(eye[:, 0])], 1)
    y = torch.stack([eye[:, 1], eye[:, 1], mouth[:, 1]], 1)
    z = torch.stack([eye_front, eye_front, mouth[:, 2] + 0.004], 1)
    scale = 1.0 / ((1.0 - z) * math.tan(math.radians(fov) / 2))
    return torch.stack([(1 + x * scale) / 2, (1 - y * scale) / 2], -1)
