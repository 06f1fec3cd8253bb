"""Bounded undo/redo history of mask edits stored as compressed per-edit diffs (no Qt).

Each step keeps only the bounding box of the pixels it changed and the before/after patches
under it, compressed with zlib, so a hundred brush strokes on a 512x512 mask cost kilobytes.
"""
from __future__ import annotations

import zlib
from collections import deque
from dataclasses import dataclass

import numpy as np

from painter.tools import Box, tight_box

DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class _Step:
    box: Box
    before: bytes
    after: bytes
    description: str

    @property
    def nbytes(self) -> int:
        return len(self.before) + len(self.after)


def _pack(patch: np.ndarray) -> bytes:
    return zlib.compress(np.ascontiguousarray(patch, dtype=np.uint8).tobytes(), 1)


def _unpack(data: bytes, box: Box) -> np.ndarray:
    flat = np.frombuffer(zlib.decompress(data), np.uint8)
    return flat.reshape(box.bottom - box.top, box.right - box.left)


class History:
    """Undo and redo stacks of mask edits; the oldest steps drop out beyond ``limit``."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"history limit must be at least 1, got {limit}")
        self._undo: deque[_Step] = deque(maxlen=limit)
        self._redo: list[_Step] = []

    @property
    def limit(self) -> int:
        """Most undo steps kept."""
        return self._undo.maxlen or 0

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def nbytes(self) -> int:
        """Bytes held by the stored patches of both stacks."""
        return sum(step.nbytes for step in self._undo) + sum(step.nbytes for step in self._redo)

    def descriptions(self) -> list[str]:
        """Descriptions of the undoable steps, oldest first."""
        return [step.description for step in self._undo]

    def redo_descriptions(self) -> list[str]:
        """Descriptions of the redoable steps, next redo first."""
        return [step.description for step in reversed(self._redo)]

    def record(self, box: Box, before: np.ndarray, after: np.ndarray, description: str) -> bool:
        """Store one edit given the patches under ``box`` before and after it.

        The box shrinks to the pixels that really changed; an edit that changed nothing is not
        stored (returns False). A stored edit clears the redo stack.
        """
        inner = tight_box(before != after)
        if inner is None:
            return False
        rows = slice(inner.top, inner.bottom)
        cols = slice(inner.left, inner.right)
        absolute = Box(box.top + inner.top, box.left + inner.left, box.top + inner.bottom, box.left + inner.right)
        self._undo.append(_Step(absolute, _pack(before[rows, cols]), _pack(after[rows, cols]), description))
        self._redo.clear()
        return True

    def undo(self, mask: np.ndarray) -> Box | None:
        """Revert the newest step in ``mask`` (in place); returns its box, or None if none is left."""
        if not self._undo:
            return None
        step = self._undo.pop()
        mask[step.box.slices] = _unpack(step.before, step.box)
        self._redo.append(step)
        return step.box

    def redo(self, mask: np.ndarray) -> Box | None:
        """Re-apply the last undone step in ``mask`` (in place); returns its box, or None."""
        if not self._redo:
            return None
        step = self._redo.pop()
        mask[step.box.slices] = _unpack(step.after, step.box)
        self._undo.append(step)
        return step.box
