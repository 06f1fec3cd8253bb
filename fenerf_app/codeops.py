"""Latent-code operations of the session (a mixin of `StudioSession`): truncation, random codes,
interpolation, reset, copying and swapping appearance. All are instant (no worker thread).
Between tuned portraits appearance moves with its tuned weights too (`models.invert.swap.swap_tuned`:
one portrait's tuned geometry with the other's tuned texture)."""
from __future__ import annotations

from fenerf_app.errors import UserError
from fenerf_app.portrait import Portrait
from models.field.codes import Codes


class CodeOperations:
    """Needs from the host: require_model, require_portrait, portraits, codesChanged, notice."""

    def _change_codes(self, portrait: Portrait, codes: Codes | None = None, psi: float | None = None) -> None:
        if codes is not None:
            portrait.set_codes(codes)
            portrait.inversion = None          # the codes no longer are that inversion's result
        if psi is not None:
            portrait.psi = float(psi)
            portrait.touch()
        self.codesChanged.emit(portrait)

    def _require_codes(self, portrait: Portrait) -> Codes:
        if portrait.codes is None:
            raise UserError(f"{portrait.name} has no codes yet: invert it first")
        return portrait.codes

    def _swapped_tuned(self, geometry: Portrait, appearance: Portrait):
        """Tuned weights of `geometry`'s shape with `appearance`'s texture (None when neither is tuned)."""
        from models.invert.swap import swap_tuned
        return swap_tuned(geometry.tuned, appearance.tuned, self.require_model().generator)

    def set_psi(self, psi: float) -> None:
        """Truncation of the current portrait's codes towards the average (1 = none)."""
        if not 0.0 <= psi <= 1.5:
            raise UserError(f"psi must be between 0 and 1.5, got {psi}")
        portrait = self.require_portrait()
        self._require_codes(portrait)
        self._change_codes(portrait, psi=psi)

    def randomize(self, seed: int, geometry: bool = True, appearance: bool = True) -> None:
        """Replace the geometry and/or appearance codes by those of a random seed (untruncated)."""
        from models.field.latents import latents_for_seed
        portrait = self.require_portrait()
        gen = self.require_model().generator
        z_geo, z_app = latents_for_seed(seed, gen.cfg.z_geo_dim, gen.cfg.z_app_dim)
        other = gen.map_latents(z_geo.to(gen.device), z_app.to(gen.device)).detach()
        current = portrait.codes if portrait.codes is not None else other
        self._change_codes(portrait, current.lerp(other, 1.0, geometry, appearance))

    def interpolate(self, other_id: str, t: float, geometry: bool = True, appearance: bool = True) -> None:
        """Move the current portrait's codes from its reset point towards another portrait's codes."""
        portrait = self.require_portrait()
        start = portrait.start_codes if portrait.start_codes is not None else self._require_codes(portrait)
        other = self._require_codes(self.portraits[other_id])
        self._change_codes(portrait, start.lerp(other, float(t), geometry, appearance))

    def reset_codes(self) -> None:
        """Back to the codes of the last inversion (or creation), psi 1."""
        portrait = self.require_portrait()
        if portrait.start_codes is None:
            raise UserError(f"{portrait.name} has no codes to go back to")
        portrait.set_codes(portrait.start_codes)
        portrait.psi = 1.0
        self.codesChanged.emit(portrait)

    def copy_appearance(self, source_id: str) -> None:
        """The current portrait takes another portrait's appearance code (geometry kept)."""
        portrait = self.require_portrait()
        source = self.portraits[source_id]
        self._change_codes(portrait, self._require_codes(portrait).with_appearance_of(self._require_codes(source)))
        portrait.set_tuned(self._swapped_tuned(portrait, source))
        self.notice.emit(f"{portrait.name} now has the appearance of {source.name}")

    def swap_appearance(self, first_id: str, second_id: str) -> None:
        """Exchange the appearance codes of two portraits (each keeps its geometry)."""
        if first_id == second_id:
            raise UserError("choose two different portraits to swap their appearance")
        a, b = self.portraits[first_id], self.portraits[second_id]
        codes_a, codes_b = self._require_codes(a), self._require_codes(b)
        tuned_a, tuned_b = self._swapped_tuned(a, b), self._swapped_tuned(b, a)
        a.set_tuned(tuned_a)
        b.set_tuned(tuned_b)
        self._change_codes(a, codes_a.with_appearance_of(codes_b))
        self._change_codes(b, codes_b.with_appearance_of(codes_a))
        self.notice.emit(f"Swapped the appearance of {a.name} and {b.name}")

