"""Mask-driven shape editing (spec 12.7 step 3): re-invert the geometry only against an edited
mask, starting from saved codes (folded into the base), appearance frozen; then measure how well
the edited region follows the new mask and how little the rest moved.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from models import labels
from models.field.generator import Generator
from models.invert.losses import region_iou
from models.invert.optimize import Inversion, RenderSetup
from models.invert.presets import InversionSettings
from models.invert.session_codes import PortraitCodes
from models.invert.targets import InversionTarget, TargetError, resize_ids


def edit_target(edited_ids: np.ndarray, size: int) -> InversionTarget:
    """A mask-only target (the image is unused: the edit pass has no image terms)."""
    ids = resize_ids(labels.validate_ids(edited_ids), size)
    if not (ids > 0).any():
        raise TargetError("edited mask is empty (no foreground)")
    return InversionTarget(torch.zeros(3, size, size), torch.from_numpy(labels.semantic_target(ids)), ids)


def edit_inversion(generator: Generator, start: PortraitCodes, edited_ids: np.ndarray,
                   settings: InversionSettings, original_ids: np.ndarray | None = None,
                   merge_sides: bool = False, setup: RenderSetup = RenderSetup()) -> Inversion:
    """An `Inversion` that moves only the geometry offsets towards `edited_ids` (already in the
    model's framing, any size). Its best state is chosen by the IoU inside and outside the edited
    region alike; the region is where `original_ids` (the unedited mask, same framing) differs from
    the edit, or, without it, where the start codes' render differs from the edit."""
    edit = settings.for_edit()
    inversion = Inversion(generator, edit_target(edited_ids, edit.size), edit, start=start,
                          merge_sides=merge_sides, setup=setup)
    if original_ids is not None:
        inversion.set_focus(edit_region(original_ids, edited_ids, edit.eval_size))
    else:
        shown = inversion.evaluate(start.effective).preview.mask
        inversion.set_focus(shown != resize_ids(edited_ids, edit.eval_size))
    return inversion


@dataclass
class EditReport:
    """Mean IoU against the edited mask inside the edited region (pixels whose id the edit changed)
    and outside it, before and after the edit pass; `region_fraction` = share of changed pixels."""

    inside_before: float | None
    inside_after: float | None
    outside_before: float
    outside_after: float
    region_fraction: float

    def lines(self) -> list[str]:
        f = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
        return [f"edited region ({self.region_fraction:.1%} of the frame): IoU to the edited mask "
                f"{f(self.inside_before)} -> {f(self.inside_after)}",
                f"outside the region: IoU {f(self.outside_before)} -> {f(self.outside_after)}"]


def edit_region(original_ids: np.ndarray, edited_ids: np.ndarray, size: int) -> np.ndarray:
    """Boolean (size, size): where the edit changed the label (both masks resized nearest)."""
    return resize_ids(original_ids, size) != resize_ids(edited_ids, size)


def edit_report(before_mask: np.ndarray, after_mask: np.ndarray, original_ids: np.ndarray,
                edited_ids: np.ndarray) -> EditReport:
    """Compare rendered masks (before / after the edit pass, same size) with the edited mask."""
    size = after_mask.shape[0]
    region = edit_region(original_ids, edited_ids, size)
    edited = resize_ids(edited_ids, size)
    return EditReport(region_iou(before_mask, edited, region), region_iou(after_mask, edited, region),
                      region_iou(before_mask, edited, ~region) or 0.0,
                      region_iou(after_mask, edited, ~region) or 0.0, float(region.mean()))


def report_for(inversion: Inversion, start: PortraitCodes, original_ids: np.ndarray,
               edited_ids: np.ndarray) -> EditReport:
    """Render the start and the best codes of an edit run and compare them with the edited mask."""
    before = inversion.evaluate(start.effective).preview.mask
    after = inversion.evaluate(inversion.best.effective).preview.mask
    return edit_report(before, after, original_ids, edited_ids)

