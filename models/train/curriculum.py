"""Training curricula (spec 2.1, 11.2): stages by step, the fade-in, noise and top-k schedules.

Curricula live in a readable TOML file (`curricula.toml` next to this module, or one passed by
the user); each is `[defaults]` overridden by its own table. The deliberate deviations from the
official code are explained at the top of that file.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, fields, replace as _replace
from pathlib import Path

from models.field.config import GeneratorConfig

BUILTIN_FILE = Path(__file__).with_name("curricula.toml")


class CurriculumError(ValueError):
    """A curriculum file or entry that cannot be used (names the file/curriculum and the reason)."""


@dataclass(frozen=True)
class Stage:
    """One resolution stage; starts at discriminator step `start`."""

    start: int
    batch_size: int
    num_steps: int
    img_size: int
    batch_split: int
    gen_lr: float
    disc_img_lr: float
    disc_seg_lr: float

    @property
    def chunk(self) -> int:
        """Fakes rendered (and scored) per chunk: batch_size / batch_split."""
        return self.batch_size // self.batch_split


@dataclass(frozen=True)
class Curriculum:
    """A complete training recipe: stages, schedules, loss weights, optimiser and camera settings."""

    name: str
    stages: tuple[Stage, ...]
    generator: GeneratorConfig | None     # None: sizes come from the model given with --init
    description: str = ""
    end_step: int = 500_000
    fov: float = 12.0
    ray_start: float = 0.88
    ray_end: float = 1.12
    h_mean: float = math.pi / 2
    v_mean: float = math.pi / 2
    h_stddev: float = 0.3
    v_stddev: float = 0.155
    sample_dist: str = "gaussian"
    hierarchical_sample: bool = True
    clamp_mode: str = "relu"
    nerf_noise_steps: int = 5000
    fade_steps: int = 10_000
    topk_interval: int = 2000
    topk_v: float = 0.6
    betas: tuple[float, float] = (0.0, 0.9)
    weight_decay: float = 0.0
    mapping_lr_scale: float = 1.0
    r1_lambda: float = 0.2
    pos_lambda: float = 15.0
    g_seg_loss_lambda: float = 0.1
    d_seg_loss_lambda: float = 0.1
    grad_clip: float = 10.0
    z_dist: str = "gaussian"
    ema_decays: tuple[float, float] = (0.999, 0.9999)
    flip: bool = True
    swap_lr_on_flip: bool = True
    framing: str = "celeba"
    preview_psi: float = 1.0
    discriminator_widths: tuple[int, ...] = (32, 64, 128, 256, 400, 400, 400, 400)

    # -- schedules (step = the discriminator's step counter) ------------------------------
    def stage_index(self, step: int) -> int:
        """Index of the last stage whose start is <= step."""
        index = 0
        for i, stage in enumerate(self.stages):
            if stage.start <= step:
                index = i
        return index

    def stage_at(self, step: int) -> Stage:
        return self.stages[self.stage_index(step)]

    def resolution_start(self, step: int) -> int:
        """Step at which the current image size began (the fade-in origin)."""
        index = self.stage_index(step)
        while index > 0 and self.stages[index - 1].img_size == self.stages[index].img_size:
            index -= 1
        return self.stages[index].start if index > 0 else 0

    def alpha(self, step: int) -> float:
        """Discriminator fade-in: min(1, (step - resolution start) / fade_steps) (spec 10.2)."""
        if self.fade_steps <= 0:
            return 1.0
        return min(1.0, (step - self.resolution_start(step)) / self.fade_steps)

    def nerf_noise(self, step: int) -> float:
        """Density noise std: max(0, 1 - step / nerf_noise_steps) (spec 11.2)."""
        if self.nerf_noise_steps <= 0:
            return 0.0
        return max(0.0, 1.0 - step / self.nerf_noise_steps)

    def topk_count(self, step: int, chunk: int) -> int:
        """How many of `chunk` fake scores the generator loss keeps: ceil(k * chunk),
        k = max(0.99 ** (step / topk_interval), topk_v)."""
        fraction = max(0.99 ** (step / self.topk_interval), self.topk_v)
        return math.ceil(fraction * chunk)

    # -- (de)serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict:
        data = asdict(self)
        data["generator"] = None if self.generator is None else self.generator.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict, origin: str = "curriculum") -> "Curriculum":
        """Build and validate from a plain dict (a TOML table merged over the defaults)."""
        data = dict(data)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CurriculumError(f"{origin}: unknown keys {unknown}")
        try:
            stages = tuple(sorted((Stage(**s) for s in data.pop("stages")), key=lambda s: s.start))
            gen = data.pop("generator", None)
            generator = None if gen is None else _generator_config(gen)
            for key in ("betas", "ema_decays", "discriminator_widths"):
                if key in data:
                    data[key] = tuple(data[key])
            curriculum = cls(stages=stages, generator=generator, **data)
        except (KeyError, TypeError, ValueError) as exc:
            raise CurriculumError(f"{origin}: {exc}") from None
        curriculum.validate(origin)
        return curriculum

    def validate(self, origin: str) -> None:
        """Raise CurriculumError for values training cannot run with."""
        problems = []
        if not self.stages:
            problems.append("no stages")
        elif self.stages[0].start != 0:
            problems.append("the first stage must start at step 0")
        for s in self.stages:
            if s.batch_size < 1 or s.batch_split < 1 or s.batch_size % s.batch_split:
                problems.append(f"stage at {s.start}: batch_size must be a positive multiple of batch_split")
            if s.img_size < 4 or s.img_size > 256 or s.img_size & (s.img_size - 1):
                problems.append(f"stage at {s.start}: img_size must be a power of two in [4, 256]")
            if s.num_steps < 2:
                problems.append(f"stage at {s.start}: num_steps must be at least 2")
        if len(self.discriminator_widths) != 8:
            problems.append("discriminator_widths needs 8 entries")
        if not 0 < self.topk_v <= 1 or self.topk_interval <= 0:
            problems.append("topk_v must be in (0, 1] and topk_interval positive")
        if self.z_dist != "gaussian":
            problems.append("only z_dist = 'gaussian' is supported (the official setting)")
        if len(self.ema_decays) != 2:
            problems.append("ema_decays needs 2 entries (ema, ema2)")
        if problems:
            raise CurriculumError(f"{origin}: " + "; ".join(problems))

    def replace(self, **changes) -> "Curriculum":
        return _replace(self, **changes)


def _generator_config(values: dict) -> GeneratorConfig:
    """Generator sizes: the official ones for the grid flag, overridden by the given keys."""
    base = GeneratorConfig.official(grid=bool(values.get("grid", True))).to_dict()
    base.update(values)
    return GeneratorConfig.from_dict(base)


def read_curricula(path: str | Path | None = None) -> dict[str, Curriculum]:
    """All curricula of a TOML file (default: the built-in one), defaults merged in."""
    path = Path(path) if path is not None else BUILTIN_FILE
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CurriculumError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CurriculumError(f"{path}: not valid TOML ({exc})") from None
    defaults = document.get("defaults", {})
    tables = document.get("curricula")
    if not isinstance(tables, dict) or not tables:
        raise CurriculumError(f"{path}: no [curricula.NAME] tables")
    return {name: Curriculum.from_dict({**defaults, **table, "name": name}, f"{path.name}: {name}")
            for name, table in tables.items()}


def get_curriculum(name: str, path: str | Path | None = None) -> Curriculum:
    """One curriculum by name; the error lists the available names."""
    curricula = read_curricula(path)
    if name not in curricula:
        where = path or BUILTIN_FILE.name
        raise CurriculumError(f"unknown curriculum {name!r} in {where} (available: {', '.join(curricula)})")
    return curricula[name]
