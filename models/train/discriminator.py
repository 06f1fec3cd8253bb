"""The progressive CoordConv discriminator `CCSDoubleEncoderDiscriminator` (spec 10).

Parameter names and registration order equal the official module (state-dict-keys.md: `layers.i`,
`fromRGB.i`, `final_layer`), so official discriminator weights load by name. Channel widths are
configurable so CPU curricula can use a small discriminator of the same structure.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

OFFICIAL_WIDTHS = (32, 64, 128, 256, 400, 400, 400, 400)
POSE_DIM = 2
MAX_SIZE = 256


class AddCoords(nn.Module):
    """Append two coordinate planes in [-1, 1]: first varying along rows, then along columns."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        rows = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1).expand(b, 1, h, w)
        cols = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype).view(1, 1, 1, w).expand(b, 1, h, w)
        return torch.cat([x, rows, cols], 1)


class CoordConv(nn.Module):
    """Conv2d that also sees the two coordinate planes (its weight has in + 2 input channels)."""

    def __init__(self, in_channels: int, out_channels: int, **conv_args):
        super().__init__()
        self.addcoords = AddCoords()
        self.conv = nn.Conv2d(in_channels + 2, out_channels, **conv_args)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.addcoords(x))


class ResidualCCBlock(nn.Module):
    """Two CoordConvs (the second strided) plus a strided 1x1 skip, averaged by 1/sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.network = nn.Sequential(
            CoordConv(in_channels, out_channels, kernel_size=3, padding=1), nn.LeakyReLU(0.2),
            CoordConv(out_channels, out_channels, kernel_size=3, stride=2, padding=1), nn.LeakyReLU(0.2))
        for module in self.network:
            if isinstance(module, CoordConv):
                nn.init.kaiming_normal_(module.conv.weight, a=0.2, mode="fan_in", nonlinearity="leaky_relu")
        self.proj = nn.Conv2d(in_channels, out_channels, 1, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.network(x) + self.proj(x)) / math.sqrt(2)


class AdapterBlock(nn.Module):
    """`fromRGB[i]`: 1x1 conv from the input channels to the block width, LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.model = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def start_layer(size: int) -> int:
    """Index of the first block for a square input of `size` pixels (256 -> 0, ..., 2 -> 7)."""
    if size < 2 or size > MAX_SIZE or size & (size - 1):
        raise ValueError(f"discriminator input size must be a power of two in [2, {MAX_SIZE}], got {size}")
    return int(math.log2(MAX_SIZE // size))


class CCSDoubleEncoderDiscriminator(nn.Module):
    """Real/fake logit, predicted z_geo, z_app and pose from an image of `input_dim` channels
    (3 for D_img, 18 labels + 3 RGB for D_seg)."""

    def __init__(self, input_dim: int, latent_geo_dim: int = 256, latent_app_dim: int = 256,
                 widths: tuple[int, ...] = OFFICIAL_WIDTHS):
        super().__init__()
        if len(widths) != 8:
            raise ValueError(f"a discriminator needs 8 widths (7 blocks + head), got {len(widths)}")
        self.input_dim = input_dim
        self.latent_geo_dim = latent_geo_dim
        self.latent_app_dim = latent_app_dim
        self.widths = tuple(int(w) for w in widths)
        self.layers = nn.ModuleList(ResidualCCBlock(widths[i], widths[i + 1]) for i in range(7))
        self.fromRGB = nn.ModuleList(AdapterBlock(input_dim, w) for w in widths)
        self.final_layer = nn.Conv2d(widths[7], 1 + latent_geo_dim + latent_app_dim + POSE_DIM, 2)

    def forward(self, x: torch.Tensor, alpha: float
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, C, R, R) -> logit (B, 1), z_geo (B, Dg), z_app (B, Da), pose (B, 2) = [pitch, yaw].
        While alpha < 1 the second block's input fades in from the half-resolution adapter."""
        start = start_layer(x.shape[-1])
        h = self.fromRGB[start](x)
        for i, layer in enumerate(self.layers[start:]):
            if i == 1 and alpha < 1:
                low = self.fromRGB[start + 1](F.interpolate(x, scale_factor=0.5, mode="nearest"))
                h = alpha * h + (1 - alpha) * low
            h = layer(h)
        out = self.final_layer(h).reshape(x.shape[0], -1)
        g, a = self.latent_geo_dim, self.latent_app_dim
        return out[:, :1], out[:, 1:1 + g], out[:, 1 + g:1 + g + a], out[:, 1 + g + a:]
