"""Image fidelity over the foreground: PSNR and SSIM restricted to pixels whose mask is not background.

A portrait's background is black in every target (spec 12.2), so a whole-frame PSNR is flattered
by the easy black pixels; these figures only count the head.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5
PSNR_CAP = 100.0             # dB reported for identical images


def _as_float(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, np.float64) / 255.0


def foreground_psnr(pred: np.ndarray, target: np.ndarray, foreground: np.ndarray) -> float:
    """PSNR (dB, peak 1) of uint8 RGB (H, W, 3) images over the pixels where `foreground` is true."""
    fg = np.asarray(foreground, bool)
    if not fg.any():
        raise ValueError("no foreground pixels to score")
    mse = float(np.mean((_as_float(pred)[fg] - _as_float(target)[fg]) ** 2))
    return PSNR_CAP if mse <= 10 ** (-PSNR_CAP / 10) else -10 * math.log10(mse)


def _gaussian_window() -> torch.Tensor:
    x = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=torch.float64)
    g = torch.exp(-x ** 2 / (2 * SSIM_SIGMA ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def foreground_ssim(pred: np.ndarray, target: np.ndarray, foreground: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004: Gaussian window sigma 1.5, K1 0.01, K2 0.03, per channel) of uint8
    RGB images over the foreground pixels."""
    fg = np.asarray(foreground, bool)
    if not fg.any():
        raise ValueError("no foreground pixels to score")
    a = torch.from_numpy(_as_float(pred)).permute(2, 0, 1)[:, None]
    b = torch.from_numpy(_as_float(target)).permute(2, 0, 1)[:, None]
    window = _gaussian_window()
    blur = lambda x: F.conv2d(F.pad(x, [SSIM_RADIUS] * 4, mode="reflect"), window)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(ssim.mean(0)[0].numpy()[fg].mean())
