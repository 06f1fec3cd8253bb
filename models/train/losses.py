"""The GAN losses of spec 11.3: non-saturating logistic losses, R1, pose regression, top-k."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """mean softplus(fake) + mean softplus(-real)."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def generator_loss(fake_logits: torch.Tensor, keep: int) -> torch.Tensor:
    """mean softplus(-x) over the `keep` highest fake logits (top-k)."""
    top = torch.topk(fake_logits, keep, dim=0).values
    return F.softplus(-top).mean()


def r1_penalty(real_logits: torch.Tensor, real_input: torch.Tensor, weight: float,
               scale: float = 1.0) -> torch.Tensor:
    """0.5 * weight * mean_i ||d sum(real) / d x_i||^2, differentiable (create_graph).

    As in the official code the gradient is taken of the loss-scaled sum and divided by `scale`
    (the mixed-precision grad scaler's factor; 1 without it)."""
    (grad,) = torch.autograd.grad(real_logits.sum() * scale, real_input, create_graph=True)
    grad = grad / scale
    return 0.5 * weight * grad.flatten(1).norm(2, dim=1).pow(2).mean()


def pose_penalty(predicted: torch.Tensor, true: torch.Tensor, weight: float) -> torch.Tensor:
    """weight * MSE between predicted and true [pitch, yaw]."""
    return weight * F.mse_loss(predicted, true.to(predicted.dtype))
