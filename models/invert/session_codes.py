"""The codes of one inverted portrait: base (e.g. the average codes) + offset, as in the official
`freq_phase_offset_<name>.pth` (spec 12.5); effective codes = base + offset.

Two file formats:
* ours (`.fcodes`): the 8 tensors in the safetensors layout of `models/io/native.py` with a JSON
  header (`kind: portrait-codes`, the model it belongs to, free-form info such as the mIoU);
* the official one (`.pth`, readable by the official tools), through `models/io/official.py`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from models.field.codes import Codes
from models.io.errors import CheckpointError
from models.io.native import read_tensors, save_tensors
from models.io.official import INVERSION_KEYS, read_inversion_file, write_inversion_file

SUFFIX = ".fcodes"
KIND = "portrait-codes"
# official key of (base, offset) for each Codes field
_OFFICIAL = {
    "geo_freq": ("w_geo_frequencies", "w_geo_frequency_offsets"),
    "geo_phase": ("w_geo_phase_shifts", "w_geo_phase_shift_offsets"),
    "app_freq": ("w_app_frequencies", "w_app_frequency_offsets"),
    "app_phase": ("w_app_phase_shifts", "w_app_phase_shift_offsets"),
}


@dataclass
class PortraitCodes:
    """base + offset codes (batch 1) and a JSON-able `info` dict (model, metrics, provenance)."""

    base: Codes
    offset: Codes
    info: dict = field(default_factory=dict)

    @classmethod
    def start(cls, base: Codes, info: dict | None = None) -> "PortraitCodes":
        """Zero offsets from a base."""
        base = base.detach().map(lambda t: t.to("cpu", torch.float32).clone())
        return cls(base, base.map(torch.zeros_like), dict(info or {}))

    @property
    def effective(self) -> Codes:
        return self.base + self.offset

    def folded(self) -> "PortraitCodes":
        """Offsets folded into the base, new zero offsets (the official edit pass start, 12.3)."""
        return PortraitCodes.start(self.effective, self.info)

    def detach(self) -> "PortraitCodes":
        return PortraitCodes(self.base.detach().map(torch.Tensor.clone),
                             self.offset.detach().map(torch.Tensor.clone), dict(self.info))

    # -- official layout ------------------------------------------------------------------
    def to_official(self) -> dict[str, torch.Tensor]:
        out = {}
        for name, (base_key, offset_key) in _OFFICIAL.items():
            out[base_key] = getattr(self.base, name).detach().cpu().float()
            out[offset_key] = getattr(self.offset, name).detach().cpu().float()
        return {k: out[k] for k in INVERSION_KEYS}

    @classmethod
    def from_official(cls, tensors: dict[str, torch.Tensor], info: dict | None = None) -> "PortraitCodes":
        base = Codes(**{n: tensors[b].float() for n, (b, _) in _OFFICIAL.items()})
        offset = Codes(**{n: tensors[o].float() for n, (_, o) in _OFFICIAL.items()})
        return cls(base, offset, dict(info or {}))

    def check_fits(self, geo_dim: int, app_dim: int, source: str = "codes") -> None:
        """Raise ValueError when the code widths do not match a generator's."""
        got = (self.base.geo_freq.shape[-1], self.base.app_freq.shape[-1])
        if got != (geo_dim, app_dim):
            raise ValueError(f"{source}: codes are {got[0]} geometry / {got[1]} appearance wide, "
                             f"the model needs {geo_dim} / {app_dim} (codes of another model?)")


def save_codes(path: str | Path, codes: PortraitCodes) -> Path:
    """Write in the format the suffix names: `.pth` official, anything else ours (atomic)."""
    path = Path(path)
    if path.suffix == ".pth":
        write_inversion_file(path, codes.to_official())
    else:
        save_tensors(path, codes.to_official(), {"kind": KIND, "info": codes.info})
    return path


def load_codes(path: str | Path) -> PortraitCodes:
    """Read our `.fcodes` or an official `freq_phase_offset_*.pth`; `CheckpointError` otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such codes file")
    if path.suffix == ".pth":
        return PortraitCodes.from_official(read_inversion_file(path), {"source": str(path)})
    tensors, config = read_tensors(path)
    if config.get("kind") != KIND:
        raise CheckpointError(path, "not a portrait codes file (a model file?)")
    missing = [k for k in INVERSION_KEYS if k not in tensors]
    if missing:
        raise CheckpointError(path, f"codes file is missing {missing[0]}")
    shapes = {k: tuple(tensors[k].shape) for k in INVERSION_KEYS}
    if len({shapes[k] for k in INVERSION_KEYS[:4]}) != 1 or len({shapes[k] for k in INVERSION_KEYS[4:]}) != 1 \
            or any(len(s) != 2 or s[0] != 1 for s in shapes.values()):
        raise CheckpointError(path, f"codes have inconsistent shapes {sorted(set(shapes.values()))}")
    return PortraitCodes.from_official(tensors, config.get("info", {}))
