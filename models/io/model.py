"""Open any supported checkpoint as a ready-to-render generator, and find checkpoints.

Supported: our `.fenerf` files and official `<prefix>generator.pth` (+ `<prefix>ema.pth`).
Search order when no path is given: the `FENERF_CHECKPOINT` environment variable, then the
project's `checkpoints/` folder (the bundled demo model first).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from models.field.config import GeneratorConfig, expected_state_shapes
from models.field.generator import Generator
from models.io.errors import CheckpointError
from models.io.native import SUFFIX, read_tensors, save_tensors

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT_DIR = PROJECT_ROOT / "checkpoints"
DEMO_MODEL = CHECKPOINT_DIR / "demo.fenerf"
ENV_VAR = "FENERF_CHECKPOINT"
OFFICIAL_RENDER_DEFAULTS = {"fov": 12.0, "ray_start": 0.88, "ray_end": 1.12, "num_steps": 24, "psi": 0.7,
                            "img_size": 128}


@dataclass
class LoadedModel:
    """A generator with EMA weights applied, in eval mode, plus what the product needs to use it."""

    generator: Generator
    path: Path
    kind: str                       # "native" or "official"
    render_defaults: dict
    framing: dict | None
    info: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.stem


def save_model(path: str | Path, generator: Generator, render_defaults: dict, framing: dict | None,
               provenance: dict) -> None:
    """Write a generator in our format (float32 weights + JSON config), atomically."""
    config = {"generator": generator.cfg.to_dict(), "render": render_defaults, "framing": framing,
              "provenance": provenance}
    save_tensors(path, generator.state_dict(), config)


def _validate_state(path: Path, cfg: GeneratorConfig, state: dict[str, torch.Tensor]) -> None:
    expected = expected_state_shapes(cfg)
    missing, extra = set(expected) - set(state), set(state) - set(expected)
    if missing or extra:
        raise CheckpointError(path, f"weights do not match the config (missing {sorted(missing)[:3]}, "
                                    f"unexpected {sorted(extra)[:3]})")
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise CheckpointError(path, f"{key} has shape {tuple(state[key].shape)}, expected {shape}")


def _build(cfg: GeneratorConfig, state: dict[str, torch.Tensor], device: str) -> Generator:
    generator = Generator(cfg)
    generator.load_state_dict(state)
    generator.requires_grad_(False)
    return generator.to(device).eval()


def load_model(path: str | Path, device: str = "cpu") -> LoadedModel:
    """Open a `.fenerf` file or an official generator `.pth` (its EMA file is found next to it)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(path, "no such file")
    if path.is_dir():
        raise CheckpointError(path, "is a directory; give a .fenerf file or an official <prefix>generator.pth")
    if path.suffix == SUFFIX:
        tensors, config = read_tensors(path)
        try:
            cfg = GeneratorConfig.from_dict(config["generator"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(path, f"bad generator config ({exc})") from None
        _validate_state(path, cfg, tensors)
        return LoadedModel(_build(cfg, tensors, device), path, "native", config.get("render", {}),
                           config.get("framing"), {"provenance": config.get("provenance", {}), "ema": True})
    from models.io.official import load_official_checkpoint
    cfg, state, info = load_official_checkpoint(path)
    info["warnings"] = [info["warning"]] if info.get("warning") else []
    return LoadedModel(_build(cfg, state, device), path, "official", dict(OFFICIAL_RENDER_DEFAULTS),
                       None, info)


def search_locations() -> list[Path]:
    """Where models are looked for, in order."""
    places = []
    if os.environ.get(ENV_VAR):
        places.append(Path(os.environ[ENV_VAR]).expanduser())
    places.append(CHECKPOINT_DIR)
    return places


def discover_models() -> list[Path]:
    """Every loadable-looking checkpoint in the search locations (demo model first)."""
    found: list[Path] = []
    for place in search_locations():
        candidates = [place] if place.is_file() else sorted(place.glob(f"*{SUFFIX}")) + sorted(place.glob("*generator.pth"))
        found += [c for c in candidates if c.is_file() and c not in found]
    found.sort(key=lambda p: p != DEMO_MODEL)
    return found


def resolve_model_path(requested: str | Path | None = None) -> Path:
    """The checkpoint to use: the requested one, else the first discovered; explains where it looked."""
    if requested:
        return Path(requested).expanduser()
    found = discover_models()
    if found:
        return found[0]
    looked = ", ".join(str(p) for p in search_locations())
    raise CheckpointError(CHECKPOINT_DIR, (
        f"no model found (looked in: {looked}). Place the bundled demo model at {DEMO_MODEL}, "
        f"or official FENeRF files (<prefix>generator.pth with <prefix>ema.pth) in {CHECKPOINT_DIR}, "
        f"or set {ENV_VAR} to a model file"))
