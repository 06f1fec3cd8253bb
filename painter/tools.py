"""Painting tools as plain functions on an ID mask (no Qt).

Coordinates are image coordinates in pixels: ``x`` grows to the right, ``y`` downwards, and
pixel ``mask[r, c]`` covers ``[c, c + 1) x [r, r + 1)``, so its centre is ``(c + 0.5, r + 0.5)``.
Every tool edits the mask in place and returns the tight bounding :class:`Box` of the pixels
it changed, or ``None`` when nothing changed.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

Point = tuple[float, float]


class Box(NamedTuple):
    """Axis-aligned pixel rectangle; ``bottom`` and ``right`` are exclusive."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """Index ``mask[box.slices]`` to get the patch under the box."""
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def union(self, other: Box | None) -> Box:
        """Smallest box holding both boxes (``other`` may be None)."""
        if other is None:
            return self
        return Box(min(self.top, other.top), min(self.left, other.left),
                   max(self.bottom, other.bottom), max(self.right, other.right))


def tight_box(changed: np.ndarray, offset: tuple[int, int] = (0, 0)) -> Box | None:
    """Bounding box of the True pixels of a boolean array, shifted by ``offset`` (top, left)."""
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(changed.any(axis=0))
    top, left = offset
    return Box(top + int(rows[0]), left + int(cols[0]), top + int(rows[-1]) + 1, left + int(cols[-1]) + 1)


def changed_box(before: np.ndarray, after: np.ndarray) -> Box | None:
    """Bounding box of the pixels that differ between two masks of the same shape."""
    return tight_box(before != after)


def pixel_of(point: Point) -> tuple[int, int]:
    """(row, column) of the pixel that holds an image point."""
    x, y = point
    return math.floor(y), math.floor(x)


def _pixel_centre(point: Point) -> Point:
    row, col = pixel_of(point)
    return col + 0.5, row + 0.5


def stamp_segment(mask: np.ndarray, start: Point, end: Point, radius: int, label: int) -> Box | None:
    """Paint a round brush of ``radius`` swept from ``start`` to ``end`` (a capsule).

    Both ends snap to their pixel centres; every pixel whose centre lies within ``radius + 0.5``
    of the segment takes ``label``, so a single dab is a disc ``2 * radius + 1`` pixels wide and a
    fast drag between far-apart mouse events leaves no gap.
    """
    (x0, y0), (x1, y1) = _pixel_centre(start), _pixel_centre(end)
    reach = radius + 0.5
    height, width = mask.shape
    top = max(math.floor(min(y0, y1) - reach), 0)
    bottom = min(math.ceil(max(y0, y1) + reach), height)
    left = max(math.floor(min(x0, x1) - reach), 0)
    right = min(math.ceil(max(x0, x1) + reach), width)
    if top >= bottom or left >= right:
        return None
    ys = np.arange(top, bottom, dtype=np.float64)[:, None] + 0.5
    xs = np.arange(left, right, dtype=np.float64)[None, :] + 0.5
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else np.clip(((xs - x0) * dx + (ys - y0) * dy) / length2, 0.0, 1.0)
    inside = (x0 + t * dx - xs) ** 2 + (y0 + t * dy - ys) ** 2 <= reach * reach
    region = mask[top:bottom, left:right]
    changed = inside & (region != label)
    region[changed] = label
    return tight_box(changed, (top, left))


def fill_rectangle(mask: np.ndarray, corner_a: Point, corner_b: Point, label: int) -> Box | None:
    """Fill the axis-aligned rectangle spanning the pixels of two corners (both included)."""
    (ra, ca), (rb, cb) = pixel_of(corner_a), pixel_of(corner_b)
    height, width = mask.shape
    top, bottom = max(min(ra, rb), 0), min(max(ra, rb) + 1, height)
    left, right = max(min(ca, cb), 0), min(max(ca, cb) + 1, width)
    if top >= bottom or left >= right:
        return None
    region = mask[top:bottom, left:right]
    changed = region != label
    region[changed] = label
    return tight_box(changed, (top, left))


def flood_fill(mask: np.ndarray, point: Point, label: int) -> Box | None:
    """Give ``label`` to the 4-connected region of equal ids around ``point``.

    Only that region changes: other labels it encloses (eyes inside skin) stay as they are,
    unlike the official painter's contour fill.
    """
    row, col = pixel_of(point)
    height, width = mask.shape
    if not (0 <= row < height and 0 <= col < width) or mask[row, col] == label:
        return None
    _, _, _, (x, y, w, h) = cv2.floodFill(mask, None, (col, row), int(label), 0, 0, 4)
    return Box(y, x, y + h, x + w)


def pick(mask: np.ndarray, point: Point) -> int | None:
    """Label under ``point``, or None outside the mask."""
    row, col = pixel_of(point)
    height, width = mask.shape
    if 0 <= row < height and 0 <= col < width:
        return int(mask[row, col])
    return None


def resize_nearest(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize an ID mask to ``shape`` (height, width) by nearest neighbour on pixel centres."""
    height, width = mask.shape
    new_h, new_w = shape
    rows = np.minimum(((np.arange(new_h) + 0.5) * height / new_h).astype(np.intp), height - 1)
    cols = np.minimum(((np.arange(new_w) + 0.5) * width / new_w).astype(np.intp), width - 1)
    return np.ascontiguousarray(mask[rows[:, None], cols[None, :]])
