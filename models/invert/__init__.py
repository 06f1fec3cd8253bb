"""Inversion, mask-driven editing and appearance transfer (spec 12).

Typical use (the CLI's `fenerf invert` / `fenerf swap` and the app's worker do exactly this)::

    target = load_target("img.jpg", "mask.png", settings.size)      # TargetError on bad input
    inv = Inversion(generator, target, preset("fast"), perceptual=load_lpips() or None)
    for record in inv:               # one StepRecord per iteration; previews every eval_every
        ...                          # inv.cancel() from another thread stops it, best kept
    save_codes("out/freq_phase_offset_me.pth", inv.best)             # official layout
    edit = edit_inversion(generator, inv.best, edited_ids, preset("fast"))   # geometry only
    mixed = swap_appearance(a_codes, b_codes)                        # A's shape, B's look
"""
from __future__ import annotations

from models.invert.edit import EditReport, edit_inversion, edit_report, report_for
from models.invert.lpips import Lpips, LpipsError, LpipsUnavailable, load_lpips
from models.invert.optimize import Inversion, Preview, RenderSetup, StepRecord
from models.invert.presets import DEFAULT_PRESET, PRESETS, InversionSettings, preset
from models.invert.session_codes import PortraitCodes, load_codes, save_codes
from models.invert.swap import swap_appearance
from models.invert.targets import InversionTarget, TargetError, crop_ids, load_ids, load_target, make_target

__all__ = [
    "DEFAULT_PRESET", "EditReport", "Inversion", "InversionSettings", "InversionTarget", "Lpips", "LpipsError",
    "LpipsUnavailable", "PRESETS", "PortraitCodes", "Preview", "RenderSetup", "StepRecord", "TargetError",
    "crop_ids", "edit_inversion", "edit_report", "load_codes", "load_ids", "load_lpips", "load_target",
    "make_target", "preset", "report_for", "save_codes", "swap_appearance",
]
