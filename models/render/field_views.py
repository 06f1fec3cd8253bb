"""The field for one fixed code, as the renderer sees it.

`CodeField` evaluates the generator as written (the reference path). `FoldedField` caches everything
a camera move does not change: FiLM frequencies and phases are folded into each layer's weights
(sin(f * (W x + b) + p) = sin((f W) x + (f b + p))), the purely affine semantic head collapses into a
single matrix, and with a locked view the direction term of the texture branch becomes a bias.
Both expose the same four methods on warped points q (1, N, 3).
"""
from __future__ import annotations

import torch

from models.field.codes import Codes
from models.field.generator import Generator, LOCKED_VIEW
from models.field.siren import effective_frequencies, sample_grid


class CodeField:
    """The generator with one code bound (reference math, differentiable)."""

    def __init__(self, generator: Generator, codes: Codes):
        self.generator, self.codes = generator, codes

    def warp(self, points: torch.Tensor) -> torch.Tensor:
        return self.generator.warp(points)

    def geometry_features(self, q: torch.Tensor) -> torch.Tensor:
        return self.generator.geometry_features(q, self.codes)

    def density(self, features: torch.Tensor) -> torch.Tensor:
        return self.generator.density(features)

    def label_logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.generator.label_logits(features)

    def color(self, features: torch.Tensor, q: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
        return self.generator.color(features, q, dirs, self.codes)


def _film(layer: torch.nn.Linear, freq: torch.Tensor, phase: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    f = effective_frequencies(freq)
    return layer.weight * f[:, None], layer.bias * f + phase


class FoldedField:
    """A frozen, faster view of the field for one code (no gradients)."""

    @torch.no_grad()
    def __init__(self, generator: Generator, codes: Codes, lock_view: bool = False):
        if codes.batch != 1:
            raise ValueError("FoldedField binds exactly one code")
        siren, cfg, h = generator.siren, generator.cfg, generator.cfg.hidden_dim
        self.warp_scale = siren.warp_scale
        self.grid = siren.spatial_embeddings if cfg.grid else None
        self.trunk = [_film(layer.layer, codes.geo_freq[0, i * h:(i + 1) * h], codes.geo_phase[0, i * h:(i + 1) * h])
                      for i, layer in enumerate(siren.network)]
        self.sigma_w, self.sigma_b = siren.final_layer.weight, siren.final_layer.bias
        w, b = None, None
        for linear in siren.label_layer_linear:
            w = linear.weight if w is None else linear.weight @ w
            b = linear.bias if b is None else linear.weight @ b + linear.bias
        self.label_w, self.label_b = w, b
        self.texture = [_film(layer.layer, codes.app_freq[0, i * h:(i + 1) * h], codes.app_phase[0, i * h:(i + 1) * h])
                        for i, layer in enumerate(siren.color_layer_sine)]
        first_w, first_b = self.texture[0]
        self.dir_w = first_w[:, :3]
        self.grid_w = first_w[:, 3:3 + cfg.grid_channels] if cfg.grid else None
        self.feat_w = first_w[:, -h:]
        self.locked_bias = first_b + self.dir_w @ torch.tensor(LOCKED_VIEW) if lock_view else None
        self.first_b = first_b
        self.rgb_w, self.rgb_b = siren.color_layer_linear[0].weight, siren.color_layer_linear[0].bias

    def warp(self, points: torch.Tensor) -> torch.Tensor:
        return points * self.warp_scale

    def geometry_features(self, q: torch.Tensor) -> torch.Tensor:
        x = q
        for w, b in self.trunk:
            x = torch.addmm(b, x.reshape(-1, x.shape[-1]), w.T).sin_().reshape(*q.shape[:-1], -1)
        return x

    def density(self, features: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(features, self.sigma_w, self.sigma_b)

    def label_logits(self, features: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(features, self.label_w, self.label_b)

    def color(self, features: torch.Tensor, q: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
        lead = features.shape[:-1]
        f = features.reshape(-1, features.shape[-1])
        if self.locked_bias is not None:
            t = torch.addmm(self.locked_bias, f, self.feat_w.T)
        else:
            t = torch.addmm(self.first_b, f, self.feat_w.T) + dirs.reshape(-1, 3) @ self.dir_w.T
        if self.grid is not None:
            t += sample_grid(self.grid, q).reshape(-1, self.grid.shape[1]) @ self.grid_w.T
        t.sin_()
        for w, b in self.texture[1:]:
            t = torch.addmm(b, t, w.T).sin_()
        return torch.sigmoid(torch.addmm(self.rgb_b, t, self.rgb_w.T)).reshape(*lead, 3)
