"""Inversion settings and named presets.

`official` is spec 12.4 / 12.7 number for number (full 128 px image every iteration, 24 samples,
1000 iterations, mIoU every 20 at 256 px). The CPU presets keep the official optimiser, schedule,
losses and code noise but estimate the per-pixel losses on a jittered ray grid (an unbiased
subset of the target's pixels, see `models/invert/rays.py`), skip samples whose density cannot
carry gradient, start from the nearest of the average and many sample codes
(`models/invert/start.py`), measure the mIoU on a small deterministic render, and on a plateau
first restart from the best state at a smaller learning rate, then stop. Their numbers come from
`bench/invert.py` (see bench/RESULTS.md).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class InversionSettings:
    """Everything that shapes one inversion run (see the module docstring)."""

    iterations: int = 1000
    lr: float = 0.01
    weight_decay: float = 1e-4
    lr_step: int = 100
    lr_gamma: float = 0.75
    code_noise: float = 0.03
    lambda_seg: float = 1.0
    lambda_img: float = 0.2
    lambda_percept: float = 1.0
    lambda_norm: float = 1.0
    edit_lambda_norm: float = 1.0                    # offset-norm weight of the edit pass (`for_edit`)
    size: int = 128                                  # target resolution (pixels per side)
    grid: tuple[tuple[int, int], ...] = ((0, 128),)  # (from iteration, rays per side); size % side == 0
    num_steps: int = 24
    jitter: bool = True                              # official stratified depth jitter while optimising
    skip_empty: bool = False                         # drop samples with density <= 0 from the backward pass
    eval_every: int = 20
    eval_size: int = 256
    eval_steps: int = 48
    patience: int | None = None                      # evaluations without a better score before stopping
    plateau_lr_drops: int = 0                        # plateaus that, instead of stopping, restart from the best
    plateau_lr_factor: float = 0.05                  # ... with the learning rate times this
    start_candidates: int = 0                        # bank sample codes ranked against the average as the start
    class_balance: float = 0.0                       # mask-loss pixel weight (largest area / class area) ** this
    min_delta: float = 0.002
    stop_at_miou: float | None = None
    lpips_net: str = "vgg"
    lpips_version: str = "0.0"
    seed: int = 0

    def __post_init__(self):
        if self.iterations < 1:
            raise ValueError("iterations must be at least 1")
        if not self.grid or self.grid[0][0] != 0:
            raise ValueError("grid schedule must start at iteration 0")
        for _, side in self.grid:
            if side < 2 or self.size % side:
                raise ValueError(f"grid side {side} must divide the target size {self.size}")
        if self.start_candidates < 0:
            raise ValueError("start_candidates must be >= 0 (0: start from the average codes)")
        if min(self.lambda_seg, self.lambda_img, self.lambda_percept, self.lambda_norm) < 0:
            raise ValueError("loss weights must be >= 0")
        if self.lambda_seg == 0 and self.lambda_img == 0 and self.lambda_percept == 0:
            raise ValueError("at least one of lambda_seg, lambda_img, lambda_percept must be > 0")

    @property
    def moves_geometry(self) -> bool:
        """Official rule (12.4): no image term -> geometry only; no mask term -> appearance only."""
        return self.lambda_seg > 0 or not self.image_terms

    @property
    def moves_appearance(self) -> bool:
        return self.image_terms

    @property
    def image_terms(self) -> bool:
        return self.lambda_img > 0 or self.lambda_percept > 0

    def grid_side(self, iteration: int) -> int:
        """Rays per side at an iteration (coarse-to-fine schedule)."""
        return [side for start, side in self.grid if start <= iteration][-1]

    def for_edit(self) -> "InversionSettings":
        """The edit pass (12.7 step 3): mask loss only, so only the geometry moves; the offset-norm
        weight becomes `edit_lambda_norm` (official: 1, as in the README command)."""
        return replace(self, lambda_img=0.0, lambda_percept=0.0, lambda_norm=self.edit_lambda_norm)

    def replace(self, **changes) -> "InversionSettings":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, InversionSettings] = {
    "official": InversionSettings(),
    # CPU presets (bench/invert.py, demo model): the official losses, schedule and code noise; the
    # target is seen through a jittered ray grid, coarse first, with 16 samples per ray (12 lost
    # 0.01-0.04 mIoU on the demo model's thin parts; 24 gained nothing). They start from the nearest
    # of the average and 512 sample codes (`models/invert/start.py`; mean self-inversion mIoU on
    # seeds 0-15 with 256 candidates 0.909, 512: 0.911, 1024: 0.919; 16 gave 0.84 on seeds 0-7).
    # From a close start the official rate overshoots (a step of 0.01 in every coordinate costs this
    # model 0.05-0.1 mIoU), while real photos need it to travel, so the first plateau restarts from
    # the best state at 1/20 of the rate (0.0005 alone: walkthrough reconstruction mIoU 0.34
    # instead of 0.45). The mask loss weighs pixels by (largest class area / class area)^0.5, at
    # most 10 (eyes and lips survive instead of fading). Their edit pass uses a 10x weaker
    # offset-norm pull and extra rays in the edited region.
    "fast": InversionSettings(
        iterations=300, size=128, grid=((0, 32), (150, 64)), num_steps=16,
        skip_empty=True, edit_lambda_norm=0.1, eval_every=10, eval_size=128, eval_steps=24, patience=8,
        plateau_lr_drops=1, start_candidates=512, class_balance=0.5, lpips_version="0.1"),
    "quick": InversionSettings(
        iterations=150, size=64, grid=((0, 16), (60, 32)), num_steps=16,
        skip_empty=True, edit_lambda_norm=0.1, eval_every=10, eval_size=64, eval_steps=24, patience=6,
        plateau_lr_drops=1, start_candidates=512, class_balance=0.5, lpips_version="0.1"),
}
DEFAULT_PRESET = "fast"


def preset(name: str) -> InversionSettings:
    """A preset by name; ValueError lists the known names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown inversion preset {name!r}; choose from {', '.join(PRESETS)}") from None
