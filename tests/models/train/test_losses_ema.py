"""Losses (spec 11.3) and the EMA update (spec 7.2)."""
import math

import pytest
import torch
import torch.nn.functional as F

from models.train.ema import ExponentialMovingAverage
from models.train.losses import discriminator_loss, generator_loss, pose_penalty, r1_penalty


def test_r1_of_a_linear_critic_is_half_lambda_weight_norm():
    w = torch.randn(3, 4, 4)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = (x * w).flatten(1).sum(1, keepdim=True)
    expected = 0.5 * 0.2 * float(w.pow(2).sum())
    assert r1_penalty(logits, x, 0.2) == pytest.approx(expected, rel=1e-5)
    assert r1_penalty(logits, x, 0.2, scale=1024.0) == pytest.approx(expected, rel=1e-5)


def test_r1_is_differentiable_for_the_discriminator_weights():
    w = torch.randn(2, requires_grad=True)
    x = torch.randn(3, 2, requires_grad=True)
    r1 = r1_penalty((x * w).sum(1, keepdim=True), x, 1.0)
    (grad,) = torch.autograd.grad(r1, w)
    assert torch.allclose(grad, w.detach())              # d/dw of 0.5 * ||w||^2


def test_generator_loss_keeps_the_top_k_scores():
    logits = torch.tensor([[-3.0], [2.0], [0.5], [-1.0]])
    assert generator_loss(logits, 2) == pytest.approx(float(F.softplus(-torch.tensor([2.0, 0.5])).mean()))
    assert generator_loss(logits, 4) == pytest.approx(float(F.softplus(-logits).mean()))


def test_discriminator_and_pose_losses():
    fake, real = torch.tensor([[1.0], [0.0]]), torch.tensor([[2.0]])
    expected = (math.log1p(math.e) + math.log(2)) / 2 + math.log1p(math.exp(-2))
    assert discriminator_loss(fake, real) == pytest.approx(expected)
    assert pose_penalty(torch.zeros(2, 2), torch.ones(2, 2), 15.0) == pytest.approx(15.0)


def test_ema_follows_the_official_formula_in_parameter_order():
    a, b = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.ones(2))
    ema = ExponentialMovingAverage([a, b], decay=0.999)
    shadow = [a.detach().clone(), b.detach().clone()]
    for n in range(1, 4):
        with torch.no_grad():
            a.add_(1.0)
            b.mul_(2.0)
        ema.update([a, b])
        d = min(0.999, (1 + n) / (10 + n))
        shadow = [s - (1 - d) * (s - p.detach()) for s, p in zip(shadow, (a, b))]
        assert ema.num_updates == n
        for mine, ref in zip(ema.shadow, shadow):
            torch.testing.assert_close(mine, ref, rtol=0, atol=1e-6)
    assert ema.current_decay() == pytest.approx(5 / 14)
    state = ema.state_dict()
    other = ExponentialMovingAverage([a, b], decay=0.5)
    other.load_state_dict(state)
    assert other.decay == 0.999 and other.num_updates == 3
    target = [torch.nn.Parameter(torch.empty(3)), torch.nn.Parameter(torch.empty(2))]
    other.copy_to(target)
    assert all(torch.equal(t, s) for t, s in zip(target, ema.shadow))
    with pytest.raises(ValueError, match="shape"):
        other.load_state_dict({**state, "shadow_params": [torch.zeros(2), torch.zeros(2)]})
