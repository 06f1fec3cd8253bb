"""Appearance transfer (spec 12.7 step 4): A's geometry with B's appearance.

The robust rule: the result's effective appearance code (frequencies and phases, base + offset)
is B's, its effective geometry A's. The base/offset split is kept per branch, so the official
file of the result still holds base + offset = the transferred codes.
"""
from __future__ import annotations

from models.field.codes import Codes
from models.invert.session_codes import PortraitCodes


def swap_appearance(a: PortraitCodes, b: PortraitCodes) -> PortraitCodes:
    """A's geometry (base and offset) with B's appearance (base and offset)."""
    a.check_fits(b.base.geo_freq.shape[-1], b.base.app_freq.shape[-1], "appearance transfer")
    base = Codes(a.base.geo_freq, a.base.geo_phase, b.base.app_freq, b.base.app_phase)
    offset = Codes(a.offset.geo_freq, a.offset.geo_phase, b.offset.app_freq, b.offset.app_phase)
    info = {"geometry_from": a.info.get("name", "A"), "appearance_from": b.info.get("name", "B")}
    return PortraitCodes(base.map(lambda t: t.clone()), offset.map(lambda t: t.clone()), info)
