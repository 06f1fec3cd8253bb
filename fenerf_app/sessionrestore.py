"""Rebuilding portraits from a session folder read by `fenerf_app.editsession.read_session`."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fenerf_app.editsession import RestoredSession
from fenerf_app.portrait import MaskTimeline, Portrait


def restore_portraits(restored: RestoredSession,
                      fit_photo: Callable[[np.ndarray | None, tuple[int, int]], np.ndarray | None]) -> list[Portrait]:
    """Portraits with their mask documents (undo/redo stacks rebuilt), codes, settings and the
    automatic and fitted masks that could be read (`restored.notes` says which were left out)."""
    portraits = []
    for item in restored.portraits:
        shape = item.states[0].shape
        timeline = MaskTimeline.rebuild(item.states, item.position, photo=fit_photo(item.crop, shape))
        portrait = Portrait(item.id, item.name, timeline, crop=item.crop, source=item.source,
                            transform=item.transform, psi=item.psi, settings=item.settings)
        portrait.codes, portrait.start_codes = item.codes, item.start_codes
        portrait.auto_mask, portrait.fitted_mask = item.auto_mask, item.fitted_mask
        portrait.tuned = item.tuned
        portraits.append(portrait)
    return portraits
