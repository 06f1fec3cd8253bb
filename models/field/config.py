"""Sizes of a FENeRF generator, read from a checkpoint rather than hard-coded.

The two official variants (spec 3.2 / 3.3) are two settings of this config; our bundled demo
model is a smaller setting of the same architecture.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

GRID_CLASS = "TextureEmbeddingPiGAN256SEMANTICDISENTANGLE_DIM_96"
NOGRID_CLASS = "SIRENBASELINESEMANTICDISENTANGLE"


@dataclass(frozen=True)
class GeneratorConfig:
    """Every size that shapes the generator's parameters."""

    grid: bool = True                 # latent feature grid feeding the texture branch (model A)
    z_geo_dim: int = 256
    z_app_dim: int = 256
    hidden_dim: int = 256             # width of every FiLM-SIREN layer
    geo_layers: int = 8               # FiLM layers of the geometry trunk
    app_layers: int = 3               # FiLM layers of the texture branch
    mapping_hidden: int = 256         # width of the mapping networks' hidden layers
    mapping_depth: int = 4            # hidden Linear+LeakyReLU pairs before the output layer
    label_layers: int = 3             # affine layers of the semantic head (3 grid, 2 no-grid)
    num_labels: int = 18
    grid_channels: int = 32
    grid_resolution: int = 96
    box_size: float = 0.24            # UniformBoxWarp side: world [-0.12, 0.12]^3 -> [-1, 1]^3

    @classmethod
    def official(cls, grid: bool = True, grid_resolution: int = 96) -> "GeneratorConfig":
        """The official checkpoint sizes: model A (grid) or model B (no grid)."""
        return cls(grid=grid, label_layers=3 if grid else 2, grid_resolution=grid_resolution)

    @property
    def geo_code_dim(self) -> int:
        return self.geo_layers * self.hidden_dim

    @property
    def app_code_dim(self) -> int:
        return self.app_layers * self.hidden_dim

    @property
    def texture_input_dim(self) -> int:
        return 3 + (self.grid_channels if self.grid else 0) + self.hidden_dim

    @property
    def official_class(self) -> str:
        return GRID_CLASS if self.grid else NOGRID_CLASS

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "GeneratorConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown generator config keys: {sorted(unknown)}")
        return cls(**data)


def expected_state_shapes(cfg: GeneratorConfig) -> dict[str, tuple[int, ...]]:
    """Ordered state-dict keys and shapes (the official order, spec state-dict-keys.md)."""
    h = cfg.hidden_dim
    shapes: dict[str, tuple[int, ...]] = {}
    if cfg.grid:
        r = cfg.grid_resolution
        shapes["siren.spatial_embeddings"] = (1, cfg.grid_channels, r, r, r)
    for i in range(cfg.geo_layers):
        shapes[f"siren.network.{i}.layer.weight"] = (h, 3 if i == 0 else h)
        shapes[f"siren.network.{i}.layer.bias"] = (h,)
    shapes["siren.final_layer.weight"] = (1, h)
    shapes["siren.final_layer.bias"] = (1,)
    for i in range(cfg.app_layers):
        shapes[f"siren.color_layer_sine.{i}.layer.weight"] = (h, cfg.texture_input_dim if i == 0 else h)
        shapes[f"siren.color_layer_sine.{i}.layer.bias"] = (h,)
    shapes["siren.color_layer_linear.0.weight"] = (3, h)
    shapes["siren.color_layer_linear.0.bias"] = (3,)
    for name, z_dim, layers in (("geo", cfg.z_geo_dim, cfg.geo_layers), ("app", cfg.z_app_dim, cfg.app_layers)):
        width = z_dim
        for j in range(cfg.mapping_depth):
            shapes[f"siren.{name}_mapping_network.network.{2 * j}.weight"] = (cfg.mapping_hidden, width)
            shapes[f"siren.{name}_mapping_network.network.{2 * j}.bias"] = (cfg.mapping_hidden,)
            width = cfg.mapping_hidden
        out = 2 * layers * h
        shapes[f"siren.{name}_mapping_network.network.{2 * cfg.mapping_depth}.weight"] = (out, width)
        shapes[f"siren.{name}_mapping_network.network.{2 * cfg.mapping_depth}.bias"] = (out,)
    for i in range(cfg.label_layers):
        out = cfg.num_labels if i == cfg.label_layers - 1 else h
        shapes[f"siren.label_layer_linear.{i}.weight"] = (out, h)
        shapes[f"siren.label_layer_linear.{i}.bias"] = (out,)
    return shapes


def infer_config(shapes: dict[str, tuple[int, ...]]) -> GeneratorConfig:
    """Derive the sizes from a state dict's shapes; the caller then checks every shape against
    `expected_state_shapes(infer_config(shapes))`."""
    def count(prefix: str, suffix: str) -> int:
        return sum(1 for k in shapes if k.startswith(prefix) and k.endswith(suffix))

    def need(key: str) -> tuple[int, ...]:
        if key not in shapes:
            raise KeyError(key)
        return tuple(shapes[key])

    grid = "siren.spatial_embeddings" in shapes
    hidden = need("siren.network.0.layer.weight")[0]
    mapping_depth = count("siren.geo_mapping_network.network.", ".weight") - 1
    geo_out = need(f"siren.geo_mapping_network.network.{2 * mapping_depth}.weight")
    label_layers = count("siren.label_layer_linear.", ".weight")
    grid_shape = need("siren.spatial_embeddings") if grid else (1, 32, 96, 96, 96)
    return GeneratorConfig(
        grid=grid,
        z_geo_dim=need("siren.geo_mapping_network.network.0.weight")[1],
        z_app_dim=need("siren.app_mapping_network.network.0.weight")[1],
        hidden_dim=hidden,
        geo_layers=count("siren.network.", ".layer.weight"),
        app_layers=count("siren.color_layer_sine.", ".layer.weight"),
        mapping_hidden=geo_out[1],
        mapping_depth=mapping_depth,
        label_layers=label_layers,
        num_labels=need(f"siren.label_layer_linear.{label_layers - 1}.weight")[0],
        grid_channels=grid_shape[1],
        grid_resolution=grid_shape[2],
    )
