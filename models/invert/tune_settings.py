"""Settings of the tuning stage (pivotal tuning after code inversion) and its named presets.

`official` follows PTI's published settings (Roich et al. 2022: Adam at 3e-4, 350 steps, L2 +
LPIPS with weight 1, the locality regulariser every step with weight 0.1 at a fixed distance from
the pivot) on the official inversion's full 128 px frontal image. The CPU presets see the target
through a jittered ray grid (an unbiased pixel subset, as the CPU inversion presets do), skip
samples that cannot carry gradient, and add the measured terms that keep unseen views right (see
`models/invert/tune.py`). Their numbers come from `bench/tune_views.py` and `bench/invert.py`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

PARTS = ("mapping", "trunk", "density", "labels", "texture", "grid")


@dataclass(frozen=True)
class TuneSettings:
    """Everything that shapes one tuning run (see `models/invert/tune.py` for the terms)."""

    iterations: int = 350
    lr: float = 3e-4
    final_lr_factor: float = 1.0     # cosine decay of the learning rate to lr * this by the last iteration
    parts: tuple[str, ...] = ("trunk", "density", "labels", "texture", "grid")   # parameter groups that move
    size: int = 128                  # target resolution (pixels per side)
    rays: int = 128                  # rays per side of the jittered grid (size % rays == 0)
    num_steps: int = 24
    skip_empty: bool = False         # drop samples with density <= 0 from the differentiable pass
    lambda_img: float = 1.0          # image MSE (RGB in [-1, 1])
    lambda_seg: float = 1.0          # mask MSE of the 18 label channels
    lambda_percept: float = 1.0      # LPIPS, where the backbone is present
    lambda_edges: float = 0.0        # multi-scale image-gradient L1 (detail without LPIPS)
    class_balance: float = 0.0       # mask-loss pixel weight (largest area / class area) ** this
    lambda_locality: float = 0.1     # other codes near the pivot render as before (PTI)
    locality_distance: float = 0.5   # ... at this fraction of the way from the pivot to a random code
    locality_rays: int = 32          # rays per side of the locality render (random training pose)
    lambda_shape: float = 0.0        # the pivot's own density stays the untuned one off the frontal rays
    shape_points: int = 4096         # random box points per step for that term
    freeze_view: bool = True         # the texture branch's view-direction weights do not move
    lpips_net: str = "vgg"
    lpips_version: str = "0.1"
    eval_every: int = 25
    eval_size: int = 128
    eval_steps: int = 24
    seed: int = 0

    def __post_init__(self):
        if self.iterations < 1:
            raise ValueError("tuning iterations must be at least 1")
        if not self.parts or set(self.parts) - set(PARTS):
            raise ValueError(f"tuning parts must be a non-empty subset of {PARTS}, got {self.parts}")
        if self.rays < 2 or self.size % self.rays:
            raise ValueError(f"tuning rays per side {self.rays} must divide the target size {self.size}")
        weights = (self.lambda_img, self.lambda_seg, self.lambda_percept, self.lambda_edges, self.lambda_locality,
                   self.lambda_shape, self.lr)
        if not all(w >= 0 and w == w for w in weights):
            raise ValueError("tuning loss weights and the learning rate must be finite and >= 0")
        if not 0 < self.locality_distance <= 1:
            raise ValueError("locality_distance must be in (0, 1]")

    def replace(self, **changes) -> "TuneSettings":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)


TUNE_PRESETS: dict[str, TuneSettings] = {
    "official": TuneSettings(),
    "fast": TuneSettings(iterations=250, lr=1e-3, final_lr_factor=0.05, rays=64, num_steps=16, skip_empty=True,
                         lambda_img=2.0, lambda_seg=2.0, lambda_edges=1.0, class_balance=0.5, lambda_shape=1.0),
    "quick": TuneSettings(iterations=150, lr=1e-3, final_lr_factor=0.05, size=64, rays=32, num_steps=16,
                          skip_empty=True, lambda_img=2.0, lambda_seg=2.0, lambda_edges=1.0, class_balance=0.5,
                          lambda_shape=1.0, eval_size=64, eval_every=25),
}


def tune_preset(name: str) -> TuneSettings:
    """The tuning preset of an inversion preset's name; ValueError lists the known names."""
    try:
        return TUNE_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown tuning preset {name!r}; choose from {', '.join(TUNE_PRESETS)}") from None
