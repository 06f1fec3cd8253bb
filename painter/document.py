"""The label document: an editable ID mask, its reference photo, tool settings and history (no Qt).

Views drive it with ``press`` / ``drag`` / ``release`` in image coordinates (see
:mod:`painter.tools`); it tells listeners what changed through plain callbacks:

* ``subscribe(fn)``: ``fn(box)`` whenever mask pixels change (also mid-stroke), ``box`` being the
  changed :class:`~painter.tools.Box`;
* ``subscribe_state(fn)``: ``fn(name)`` with ``name`` one of :data:`STATE_NAMES`; ``"history"``
  means an edit was committed, undone or redone.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.labels import ID, NAMES, NUM_CLASSES, validate_ids
from painter import tools
from painter.history import DEFAULT_LIMIT, History
from painter.tools import Box, Point

TOOLS: tuple[str, ...] = ("brush", "eraser", "fill", "rectangle", "eyedropper")
STATE_NAMES: tuple[str, ...] = ("label", "tool", "brush_radius", "history", "photo")
MAX_BRUSH_RADIUS = 100

MaskListener = Callable[[Box], None]
StateListener = Callable[[str], None]


@dataclass
class _Stroke:
    """A press..release gesture in progress: one undo step when it ends."""

    tool: str
    label: int
    radius: int
    before: np.ndarray
    start: Point
    last: Point
    box: Box | None = None
    shape_box: Box | None = None     # the rectangle tool's live rectangle


class LabelDocument:
    """A uint8 ID mask (ids 0..18) being edited, with an optional photo under it."""

    def __init__(self, mask: np.ndarray, photo: np.ndarray | None = None,
                 history_limit: int = DEFAULT_LIMIT) -> None:
        self._mask = np.ascontiguousarray(validate_ids(mask)).copy()
        self._photo: np.ndarray | None = None
        self._history = History(history_limit)
        self._label = ID["skin"]
        self._tool = "brush"
        self._radius = 5
        self._stroke: _Stroke | None = None
        self._mask_listeners: list[MaskListener] = []
        self._state_listeners: list[StateListener] = []
        self.set_photo(photo)

    # -- data --------------------------------------------------------------------------------
    @property
    def mask(self) -> np.ndarray:
        """Read-only view of the ID mask (H, W)."""
        view = self._mask.view()
        view.flags.writeable = False
        return view

    @property
    def photo(self) -> np.ndarray | None:
        """Read-only view of the reference photo (H, W, 3) uint8, or None."""
        if self._photo is None:
            return None
        view = self._photo.view()
        view.flags.writeable = False
        return view

    @property
    def shape(self) -> tuple[int, int]:
        return self._mask.shape

    def set_photo(self, photo: np.ndarray | None) -> None:
        """Show ``photo`` (H, W, 3) uint8 of the mask's size under the mask, or none."""
        if photo is not None:
            photo = np.asarray(photo)
            if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
                raise ValueError(f"the photo must be an (H, W, 3) uint8 array, got {photo.dtype} {photo.shape}")
            if photo.shape[:2] != self.shape:
                raise ValueError(f"the photo is {photo.shape[1]}x{photo.shape[0]} but the mask is "
                                 f"{self.shape[1]}x{self.shape[0]}; scale it first (painter.maskio.fit_photo)")
            photo = np.ascontiguousarray(photo).copy()
        self._photo = photo
        self._notify_state("photo")

    # -- settings ----------------------------------------------------------------------------
    @property
    def label(self) -> int:
        """The id that the brush, fill and rectangle paint."""
        return self._label

    @label.setter
    def label(self, value: int) -> None:
        value = int(value)
        if not 0 <= value < NUM_CLASSES:
            raise ValueError(f"label must be an id in 0..{NUM_CLASSES - 1}, got {value}")
        if value != self._label:
            self._label = value
            self._notify_state("label")

    @property
    def tool(self) -> str:
        """One of :data:`TOOLS`."""
        return self._tool

    @tool.setter
    def tool(self, name: str) -> None:
        if name not in TOOLS:
            raise ValueError(f"unknown tool {name!r}; expected one of {', '.join(TOOLS)}")
        if name != self._tool:
            self.release()
            self._tool = name
            self._notify_state("tool")

    @property
    def brush_radius(self) -> int:
        """Brush and eraser radius in pixels (0 paints single pixels); clamped to 0..MAX_BRUSH_RADIUS."""
        return self._radius

    @brush_radius.setter
    def brush_radius(self, value: int) -> None:
        value = min(max(int(value), 0), MAX_BRUSH_RADIUS)
        if value != self._radius:
            self._radius = value
            self._notify_state("brush_radius")

    # -- gestures ----------------------------------------------------------------------------
    @property
    def stroke_active(self) -> bool:
        """True between a press and its release with the brush, eraser or rectangle."""
        return self._stroke is not None

    def press(self, x: float, y: float) -> None:
        """Start the current tool at an image point (fill and eyedropper act at once)."""
        self.release()
        point = (float(x), float(y))
        if self._tool == "eyedropper":
            self.pick(*point)
        elif self._tool == "fill":
            self._apply(lambda mask: tools.flood_fill(mask, point, self._label), f"fill ({NAMES[self._label]})")
        else:
            label = 0 if self._tool == "eraser" else self._label
            self._stroke = _Stroke(self._tool, label, self._radius, self._mask.copy(), point, point)
            self.drag(*point)

    def drag(self, x: float, y: float) -> None:
        """Continue the stroke in progress to an image point (no-op without one)."""
        stroke = self._stroke
        if stroke is None:
            return
        point = (float(x), float(y))
        if stroke.tool == "rectangle":
            changed = stroke.shape_box
            if changed is not None:
                self._mask[changed.slices] = stroke.before[changed.slices]
            stroke.shape_box = tools.fill_rectangle(self._mask, stroke.start, point, stroke.label)
            if stroke.shape_box is not None:
                changed = stroke.shape_box.union(changed)
        else:
            changed = tools.stamp_segment(self._mask, stroke.last, point, stroke.radius, stroke.label)
        stroke.last = point
        if changed is not None:
            stroke.box = changed.union(stroke.box)
            self._notify_mask(changed)

    def release(self) -> None:
        """End the stroke in progress as one undo step (no-op without one)."""
        stroke, self._stroke = self._stroke, None
        if stroke is None or stroke.box is None:
            return
        verb = {"brush": "brush stroke", "eraser": "eraser stroke", "rectangle": "rectangle"}[stroke.tool]
        name = "" if stroke.tool == "eraser" else f" ({NAMES[stroke.label]})"
        if self._history.record(stroke.box, stroke.before[stroke.box.slices], self._mask[stroke.box.slices],
                                verb + name):
            self._notify_state("history")

    def pick(self, x: float, y: float) -> int | None:
        """Eyedropper: make the label under an image point current; returns it (None outside)."""
        label = tools.pick(self._mask, (float(x), float(y)))
        if label is not None:
            self.label = label
        return label

    def label_at(self, x: float, y: float) -> int | None:
        """Label under an image point, or None outside the mask."""
        return tools.pick(self._mask, (float(x), float(y)))

    # -- whole-mask edits and history --------------------------------------------------------
    def replace_mask(self, mask: np.ndarray, description: str) -> bool:
        """Replace the whole mask as one undo step (e.g. a rendered or automatic mask).

        A mask of another size is resized to the document's with nearest neighbour. Returns
        False when nothing changed.
        """
        self.release()
        new = validate_ids(mask)
        if new.shape != self.shape:
            new = tools.resize_nearest(new, self.shape)
        return self._apply(lambda current: self._overwrite(current, new), description)

    @staticmethod
    def _overwrite(current: np.ndarray, new: np.ndarray) -> Box | None:
        box = tools.changed_box(current, new)
        if box is not None:
            current[box.slices] = new[box.slices]
        return box

    def _apply(self, edit: Callable[[np.ndarray], Box | None], description: str) -> bool:
        before = self._mask.copy()
        box = edit(self._mask)
        if box is None:
            return False
        self._history.record(box, before[box.slices], self._mask[box.slices], description)
        self._notify_mask(box)
        self._notify_state("history")
        return True

    def undo(self) -> bool:
        """Revert the last edit (a stroke in progress is committed first); False if none is left."""
        self.release()
        return self._after_history(self._history.undo(self._mask))

    def redo(self) -> bool:
        """Re-apply the last undone edit; False if there is none."""
        self.release()
        return self._after_history(self._history.redo(self._mask))

    def _after_history(self, box: Box | None) -> bool:
        if box is None:
            return False
        self._notify_mask(box)
        self._notify_state("history")
        return True

    @property
    def can_undo(self) -> bool:
        return self._history.can_undo

    @property
    def can_redo(self) -> bool:
        return self._history.can_redo

    @property
    def history_limit(self) -> int:
        return self._history.limit

    @property
    def history_nbytes(self) -> int:
        """Memory held by the undo and redo patches."""
        return self._history.nbytes

    def history_descriptions(self) -> list[str]:
        """What each undoable step did, oldest first."""
        return self._history.descriptions()

    def redo_descriptions(self) -> list[str]:
        """What each redoable step did, next redo first."""
        return self._history.redo_descriptions()

    # -- listeners ---------------------------------------------------------------------------
    def subscribe(self, listener: MaskListener) -> None:
        """Call ``listener(box)`` whenever mask pixels change."""
        self._mask_listeners.append(listener)

    def unsubscribe(self, listener: MaskListener) -> None:
        self._mask_listeners.remove(listener)

    def subscribe_state(self, listener: StateListener) -> None:
        """Call ``listener(name)`` when a setting, the photo or the history changes (see STATE_NAMES)."""
        self._state_listeners.append(listener)

    def unsubscribe_state(self, listener: StateListener) -> None:
        self._state_listeners.remove(listener)

    def _notify_mask(self, box: Box) -> None:
        for listener in list(self._mask_listeners):
            listener(box)

    def _notify_state(self, name: str) -> None:
        for listener in list(self._state_listeners):
            listener(name)
