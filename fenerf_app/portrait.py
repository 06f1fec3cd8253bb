"""A portrait being edited: its photo and crop, the mask document with a restorable history, its
latent codes and settings (no Qt widgets; the session owns the portraits).

`MaskTimeline` mirrors a `LabelDocument`'s undo/redo stacks as whole compressed masks, so a
session folder can store the history and a reopened session can rebuild the very same stacks
(one `replace_mask` per step, then the undos).
"""
from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.field.codes import Codes
from painter.document import LabelDocument


@dataclass(frozen=True)
class MaskState:
    """One mask of the history: zlib-compressed ids, its shape and what produced it."""

    data: bytes
    shape: tuple[int, int]
    description: str

    @classmethod
    def of(cls, mask: np.ndarray, description: str) -> "MaskState":
        mask = np.ascontiguousarray(mask, dtype=np.uint8)
        return cls(zlib.compress(mask.tobytes(), 1), mask.shape, description)

    def array(self) -> np.ndarray:
        return np.frombuffer(zlib.decompress(self.data), np.uint8).reshape(self.shape).copy()

    @property
    def key(self) -> str:
        """Content hash (names the state's file in a session folder)."""
        return hashlib.sha1(self.data + repr(self.shape).encode()).hexdigest()[:16]


class MaskTimeline:
    """Follows a document: states[0] is the base mask, states[i] the mask after undo step i;
    `position` is the number of steps currently applied (the rest are redoable)."""

    def __init__(self, document: LabelDocument, states: list[MaskState] | None = None,
                 position: int | None = None) -> None:
        self.document = document
        self.states = states or [MaskState.of(document.mask, "start")]
        self.position = len(self.states) - 1 if position is None else position
        self.version = 0                       # bumped on every change (autosave watches it)
        document.subscribe_state(self._on_state)

    def detach(self) -> None:
        self.document.unsubscribe_state(self._on_state)

    def _on_state(self, name: str) -> None:
        if name != "history":
            return
        doc = self.document
        applied, redoable = doc.history_descriptions(), doc.redo_descriptions()
        position = len(applied)
        mask = doc.mask
        if position == self.position - 1 and len(applied) + len(redoable) + 1 == len(self.states) \
                and self.states[position].array().tobytes() == mask.tobytes():
            self.position = position                           # undo
        elif position == self.position + 1 and position < len(self.states) \
                and self.states[position].description == applied[-1] \
                and self.states[position].array().tobytes() == mask.tobytes():
            self.position = position                           # redo
        else:                                                  # a new edit (redo stack dropped)
            self.states = self.states[:self.position + 1] + [MaskState.of(mask, applied[-1])]
            self.position = len(self.states) - 1
            excess = len(self.states) - 1 - position           # steps the document's bound dropped
            if excess > 0:
                self.states = self.states[excess:]
                self.position -= excess
        self.version += 1

    @classmethod
    def rebuild(cls, states: list[MaskState], position: int, history_limit: int = 100,
                photo: np.ndarray | None = None) -> "MaskTimeline":
        """A new document with these states as its undo/redo stacks, `position` steps applied."""
        if not states or not 0 <= position < len(states):
            raise ValueError(f"mask history position {position} is outside 0..{len(states) - 1}")
        document = LabelDocument(states[0].array(), photo, history_limit=history_limit)
        for state in states[1:]:
            document.replace_mask(state.array(), state.description)
        for _ in range(len(states) - 1 - position):
            document.undo()
        return cls(document, list(states), position)


@dataclass
class Portrait:
    """Everything about one face being edited."""

    id: str
    name: str
    timeline: MaskTimeline
    crop: np.ndarray | None = None                  # aligned RGB crop (H, W, 3) uint8, the inversion target
    source: Path | None = None                      # the photo file it came from
    transform: dict | None = None                   # AlignTransform.to_dict() (crop <-> photo)
    codes: Codes | None = None                      # raw codes shown (before truncation)
    start_codes: Codes | None = None                # what "reset" goes back to
    psi: float = 1.0                                # truncation towards the average code
    settings: dict = field(default_factory=dict)    # inversion preset, view, notes
    inversion: object | None = None                 # last inversion result (geometry re-inversion start; not saved)
    fitted_mask: np.ndarray | None = None           # the mask the codes were last fitted to (an edit's reference; saved)
    auto_mask: np.ndarray | None = None             # the photo's automatic mask (saved)
    tuned: object | None = None                     # TunedWeights of the tuning stage (saved), None: untuned
    tuned_generator: object | None = None           # the model carrying `tuned` (made on first use; not saved)
    version: int = 0                                # bumped when codes, tuned weights or settings change

    @property
    def document(self) -> LabelDocument:
        return self.timeline.document

    def effective_codes(self, average: Codes) -> Codes | None:
        """The codes rendered: truncated towards `average` by psi."""
        if self.codes is None:
            return None
        return self.codes if self.psi == 1.0 else self.codes.truncate(average, self.psi)

    def set_codes(self, codes: Codes | None, reset_point: bool = False) -> None:
        """Show new codes; the mask of the last fit no longer describes them (an inversion sets it again)."""
        self.codes = None if codes is None else codes.detach()
        self.fitted_mask = None
        if reset_point:
            self.start_codes = self.codes
        self.version += 1

    def set_tuned(self, tuned) -> None:
        """Render with these tuned weights from now on (None: the model as it is)."""
        self.tuned, self.tuned_generator = tuned, None
        self.version += 1

    def touch(self) -> None:
        self.version += 1
