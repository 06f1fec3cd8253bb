"""FiLM codes: the frequencies and phase shifts the mapping networks produce (spec 3.1, 6.3).

Codes live in raw mapping-network space; the SIREN applies f_eff = 15 f + 30 itself.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch


@dataclass
class Codes:
    """Geometry (B, Lg*H) and appearance (B, La*H) frequencies and phase shifts."""

    geo_freq: torch.Tensor
    geo_phase: torch.Tensor
    app_freq: torch.Tensor
    app_phase: torch.Tensor

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    def map(self, fn) -> "Codes":
        """Apply fn to each of the four tensors."""
        return Codes(*(fn(t) for t in self.tensors()))

    def combine(self, other: "Codes", fn) -> "Codes":
        return Codes(*(fn(a, b) for a, b in zip(self.tensors(), other.tensors())))

    def __add__(self, other: "Codes") -> "Codes":
        return self.combine(other, torch.add)

    def __sub__(self, other: "Codes") -> "Codes":
        return self.combine(other, torch.sub)

    @property
    def batch(self) -> int:
        return self.geo_freq.shape[0]

    def to(self, device) -> "Codes":
        return self.map(lambda t: t.to(device))

    def detach(self) -> "Codes":
        return self.map(lambda t: t.detach())

    def select(self, index: int) -> "Codes":
        """One batch element, keeping the batch axis."""
        return self.map(lambda t: t[index:index + 1])

    def truncate(self, average: "Codes", psi: float) -> "Codes":
        """w_avg + psi * (w - w_avg), identically for all four tensors (spec 6.3)."""
        return self.combine(average, lambda w, a: a + psi * (w - a))

    def lerp(self, other: "Codes", t: float, geometry: bool = True, appearance: bool = True) -> "Codes":
        """Linear interpolation towards other; t may leave [0, 1] (extrapolation)."""
        mix = lambda a, b: a + t * (b - a)  # noqa: E731
        return Codes(
            mix(self.geo_freq, other.geo_freq) if geometry else self.geo_freq,
            mix(self.geo_phase, other.geo_phase) if geometry else self.geo_phase,
            mix(self.app_freq, other.app_freq) if appearance else self.app_freq,
            mix(self.app_phase, other.app_phase) if appearance else self.app_phase,
        )

    def with_appearance_of(self, other: "Codes") -> "Codes":
        """This geometry with other's appearance (appearance transfer, spec 12.7)."""
        return Codes(self.geo_freq, self.geo_phase, other.app_freq, other.app_phase)

    @staticmethod
    def cat(items: list["Codes"]) -> "Codes":
        return Codes(*(torch.cat(ts, 0) for ts in zip(*(c.tensors() for c in items))))

    def to_dict(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, torch.Tensor]) -> "Codes":
        return cls(**{f.name: data[f.name] for f in fields(cls)})
