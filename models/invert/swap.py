"""Appearance transfer (spec 12.7 step 4): A's geometry with B's appearance.

The robust rule: the result's effective appearance code (frequencies and phases, base + offset)
is B's, its effective geometry A's. The base/offset split is kept per branch, so the official
file of the result still holds base + offset = the transferred codes. Between tuned portraits
the weights follow the same split: A's tuned geometry weights with B's tuned appearance weights,
so the result has A's reconstructed shape and mask and B's photo texture.
"""
from __future__ import annotations

from models.field.codes import Codes
from models.field.generator import Generator
from models.invert.session_codes import PortraitCodes
from models.invert.tuned_weights import TunedWeights, model_digest


def swap_appearance(a: PortraitCodes, b: PortraitCodes) -> PortraitCodes:
    """A's geometry (base and offset) with B's appearance (base and offset)."""
    a.check_fits(b.base.geo_freq.shape[-1], b.base.app_freq.shape[-1], "appearance transfer")
    base = Codes(a.base.geo_freq, a.base.geo_phase, b.base.app_freq, b.base.app_phase)
    offset = Codes(a.offset.geo_freq, a.offset.geo_phase, b.offset.app_freq, b.offset.app_phase)
    info = {"geometry_from": a.info.get("name", "A"), "appearance_from": b.info.get("name", "B")}
    return PortraitCodes(base.map(lambda t: t.clone()), offset.map(lambda t: t.clone()), info)


APPEARANCE_PREFIXES = ("siren.color_layer_sine.", "siren.color_layer_linear.", "siren.spatial_embeddings",
                       "siren.app_mapping_network.")


def swap_tuned(a: TunedWeights | None, b: TunedWeights | None, generator: Generator) -> TunedWeights | None:
    """The tuned weights of a swap: A's tuned geometry (trunk, density, labels) with B's tuned
    appearance (texture branch, latent grid). A side that is not tuned gives the untuned model's
    tensors for its part; None when neither is tuned."""
    if a is None and b is None:
        return None
    untuned = {name: p.detach().cpu() for name, p in generator.named_parameters()}
    names = set(a.tensors if a is not None else ()) | set(b.tensors if b is not None else ())
    tensors = {}
    for name in sorted(names, key=list(untuned).index):
        source = b if name.startswith(APPEARANCE_PREFIXES) else a
        tensors[name] = (source.tensors[name] if source is not None and name in source.tensors
                         else untuned[name]).clone()
    return TunedWeights(tensors, {"parts": "swap", "model_digest": model_digest(generator)})
