"""What every export shares: where the codes come from, progress and cancellation."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from models.field.codes import Codes
from models.field.generator import Generator
from models.field.latents import codes_for_seeds
from models.io.errors import CheckpointError

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]


class ExportCancelled(Exception):
    """Raised by an export when its cancel callback returns True."""


def check_cancel(cancel: Cancel | None) -> None:
    if cancel is not None and cancel():
        raise ExportCancelled("export cancelled")


def seed_codes(generator: Generator, seed: int, psi: float) -> Codes:
    """Truncated codes of one seed (z_geo then z_app drawn from it, like the official scripts)."""
    return codes_for_seeds(generator, [seed], psi)


def portrait_from_file(path: str | Path, generator: Generator) -> tuple[Codes, Generator]:
    """The effective codes (base + offset) of an inverted portrait (our `.fcodes` file or an official
    `freq_phase_offset_*.pth`) and the generator to render them with: `generator` itself, or a copy
    carrying the portrait's tuned weights when the codes name some. CheckpointError naming the file
    if it is neither, does not fit the model, or names bad tuned weights."""
    from models.invert.session_codes import load_codes
    from models.invert.tuned_weights import tuned_for_codes
    path = Path(path)
    portrait = load_codes(path)
    try:
        portrait.check_fits(generator.cfg.geo_code_dim, generator.cfg.app_code_dim, "codes")
    except ValueError as exc:
        raise CheckpointError(path, str(exc).split(": ", 1)[-1]) from None
    tuned = tuned_for_codes(path, portrait.info, generator)
    return portrait.effective.to(generator.device), generator if tuned is None else tuned.applied(generator)


def baked_session(generator: Generator, codes: Codes, resolution: int, progress: Progress | None = None,
                  cancel: Cancel | None = None):
    """An `OrbitSession` baked at `resolution`; a cancelled bake raises ExportCancelled."""
    from models.bake.lattice import BakeCancelled
    from models.bake.progressive import OrbitSession
    session = OrbitSession(generator, codes)
    try:
        session.bake(resolution, progress, cancel)
    except BakeCancelled as exc:
        raise ExportCancelled(str(exc)) from None
    return session
