"""The FENeRF generator (spec 3): two mapping networks drive one FiLM-SIREN field that outputs
18 label logits, RGB and density at any 3D point.

Parameter names and order equal the official `DoubleImplicitGenerator3d` state dict, so official
weights load by name; sizes come from a `GeneratorConfig`.
"""
from __future__ import annotations

import torch
from torch import nn

from models.field.codes import Codes
from models.field.config import GeneratorConfig
from models.field.siren import (FiLMLayer, MappingNetwork, effective_frequencies, film_layer_init,
                                sample_grid)

AVERAGE_SAMPLES = 10_000
AVERAGE_SEED = 12345
LOCKED_VIEW = (0.0, 0.0, -1.0)


class FieldNetwork(nn.Module):
    """The SIREN of spec 3.2 (grid) / 3.3 (no grid). Registration order = official state-dict order."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden_dim
        if cfg.grid:
            r = cfg.grid_resolution
            self.spatial_embeddings = nn.Parameter(torch.randn(1, cfg.grid_channels, r, r, r) * 0.1)
        self.network = nn.ModuleList(FiLMLayer(3 if i == 0 else h, h) for i in range(cfg.geo_layers))
        self.final_layer = nn.Linear(h, 1)
        self.color_layer_sine = nn.ModuleList(
            FiLMLayer(cfg.texture_input_dim if i == 0 else h, h) for i in range(cfg.app_layers))
        self.color_layer_linear = nn.Sequential(nn.Linear(h, 3))
        self.geo_mapping_network = MappingNetwork(cfg.z_geo_dim, cfg.mapping_hidden, cfg.mapping_depth,
                                                  2 * cfg.geo_code_dim)
        self.app_mapping_network = MappingNetwork(cfg.z_app_dim, cfg.mapping_hidden, cfg.mapping_depth,
                                                  2 * cfg.app_code_dim)
        self.label_layer_linear = nn.Sequential(*(
            nn.Linear(h, cfg.num_labels if i == cfg.label_layers - 1 else h) for i in range(cfg.label_layers)))
        self.warp_scale = 2.0 / cfg.box_size

    def init_official(self) -> None:
        """The official initialisation (spec 3.6), for training from scratch."""
        for i, film in enumerate(self.network):
            film_layer_init(film.layer, first=(i == 0))
        for film in self.color_layer_sine:
            film_layer_init(film.layer)
        for linear in (self.final_layer, self.color_layer_linear[0], *self.label_layer_linear):
            film_layer_init(linear)
        self.geo_mapping_network.init_official()
        self.app_mapping_network.init_official()


class Generator(nn.Module):
    """FENeRF generator: codes -> radiance/semantic field. Holds the field as `self.siren`."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = cfg
        self.siren = FieldNetwork(cfg)
        self._average: Codes | None = None

    # -- mapping ---------------------------------------------------------------------------
    def map_latents(self, z_geo: torch.Tensor, z_app: torch.Tensor) -> Codes:
        """Mapping networks: z (B, 256) each -> raw FiLM codes."""
        gf, gp = self.siren.geo_mapping_network(z_geo)
        af, ap = self.siren.app_mapping_network(z_app)
        return Codes(gf, gp, af, ap)

    def average_codes(self, seed: int = AVERAGE_SEED, samples: int = AVERAGE_SAMPLES) -> Codes:
        """Mean mapping outputs over `samples` standard-normal z (geo drawn first, then app), computed
        once with a fixed seed and cached; call `forget_average()` after changing the weights."""
        if self._average is None or seed != AVERAGE_SEED or samples != AVERAGE_SAMPLES:
            rng = torch.Generator().manual_seed(seed)
            z_geo = torch.randn(samples, self.cfg.z_geo_dim, generator=rng)
            z_app = torch.randn(samples, self.cfg.z_app_dim, generator=rng)
            device = self.siren.final_layer.weight.device
            with torch.no_grad():
                codes = self.map_latents(z_geo.to(device), z_app.to(device))
            average = codes.map(lambda t: t.mean(0, keepdim=True))
            if seed != AVERAGE_SEED or samples != AVERAGE_SAMPLES:
                return average
            self._average = average
        return self._average

    def forget_average(self) -> None:
        self._average = None

    def codes_for(self, z_geo: torch.Tensor, z_app: torch.Tensor, psi: float = 1.0) -> Codes:
        """Mapped and truncated codes for latents."""
        codes = self.map_latents(z_geo, z_app)
        return codes if psi == 1.0 else codes.truncate(self.average_codes(), psi)

    # -- the field, split so renderers can skip what they do not need ----------------------
    def warp(self, points: torch.Tensor) -> torch.Tensor:
        return points * self.siren.warp_scale

    def geometry_features(self, q: torch.Tensor, codes: Codes) -> torch.Tensor:
        """Geometry trunk on warped points q (B, N, 3) -> features (B, N, H)."""
        freq = effective_frequencies(codes.geo_freq)
        h = self.cfg.hidden_dim
        x = q
        for i, layer in enumerate(self.siren.network):
            x = layer(x, freq[..., i * h:(i + 1) * h], codes.geo_phase[..., i * h:(i + 1) * h])
        return x

    def density(self, features: torch.Tensor) -> torch.Tensor:
        """Raw density (B, N, 1), may be negative."""
        return self.siren.final_layer(features)

    def label_logits(self, features: torch.Tensor) -> torch.Tensor:
        """Raw 18-channel label logits (B, N, 18) of the affine semantic head."""
        return self.siren.label_layer_linear(features)

    def color(self, features: torch.Tensor, q: torch.Tensor, dirs: torch.Tensor, codes: Codes) -> torch.Tensor:
        """Texture branch -> RGB in (0, 1) (B, N, 3); dirs are world view directions (B, N, 3)."""
        parts = [dirs]
        if self.cfg.grid:
            parts.append(sample_grid(self.siren.spatial_embeddings, q))
        parts.append(features)
        t = torch.cat(parts, -1)
        freq = effective_frequencies(codes.app_freq)
        h = self.cfg.hidden_dim
        for i, layer in enumerate(self.siren.color_layer_sine):
            t = layer(t, freq[..., i * h:(i + 1) * h], codes.app_phase[..., i * h:(i + 1) * h])
        return torch.sigmoid(self.siren.color_layer_linear(t))

    def forward(self, points: torch.Tensor, dirs: torch.Tensor, codes: Codes) -> torch.Tensor:
        """Full field at world points (B, N, 3): [18 label logits, 3 RGB, 1 raw density] (B, N, 22)."""
        q = self.warp(points)
        features = self.geometry_features(q, codes)
        return torch.cat([self.label_logits(features), self.color(features, q, dirs, codes),
                          self.density(features)], -1)

    @property
    def device(self) -> torch.device:
        return self.siren.final_layer.weight.device


def locked_directions(like: torch.Tensor) -> torch.Tensor:
    """View directions all equal to (0, 0, -1) (lock_view_dependence, spec 4.4)."""
    return torch.tensor(LOCKED_VIEW, dtype=like.dtype, device=like.device).expand_as(like)
