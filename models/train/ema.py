"""Exponential moving average of the generator weights, as the official torch_ema object (spec 7.2).

The shadow list follows `parameters()` order (= state-dict order), so `shadow[i]` belongs to the
i-th generator parameter, exactly like the official `shadow_params`.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn


class ExponentialMovingAverage:
    """Shadow copies s of parameters theta, updated as s <- s - (1 - d)(s - theta) with
    d = min(decay, (1 + n) / (10 + n)) after incrementing the update count n."""

    def __init__(self, parameters: Iterable[torch.Tensor], decay: float):
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.decay = float(decay)
        self.num_updates = 0
        self.shadow = [p.detach().clone() for p in parameters]

    def current_decay(self) -> float:
        """The decay the next update will use."""
        n = self.num_updates + 1
        return min(self.decay, (1 + n) / (10 + n))

    @torch.no_grad()
    def update(self, parameters: Iterable[torch.Tensor]) -> None:
        params = list(parameters)
        self._check(params)
        decay = self.current_decay()
        self.num_updates += 1
        for s, p in zip(self.shadow, params):
            s.sub_((1.0 - decay) * (s - p.detach().to(s.dtype)))

    @torch.no_grad()
    def copy_to(self, parameters: Iterable[torch.Tensor]) -> None:
        """Write the averaged weights into `parameters`."""
        params = list(parameters)
        self._check(params)
        for s, p in zip(self.shadow, params):
            p.copy_(s)

    def averaged_state_dict(self, module: nn.Module) -> dict[str, torch.Tensor]:
        """`module`'s state-dict keys (all parameters, in order) zipped with the shadow tensors."""
        names = [name for name, _ in module.named_parameters()]
        if len(names) != len(self.shadow):
            raise ValueError(f"EMA holds {len(self.shadow)} tensors, the module has {len(names)} parameters")
        return {name: s.detach().clone() for name, s in zip(names, self.shadow)}

    def state_dict(self) -> dict:
        return {"decay": self.decay, "num_updates": self.num_updates, "shadow_params": list(self.shadow)}

    def load_state_dict(self, state: dict) -> None:
        """Restore from `state_dict()` output; counts and shapes must match."""
        shadow = state["shadow_params"]
        if len(shadow) != len(self.shadow):
            raise ValueError(f"EMA state has {len(shadow)} tensors, expected {len(self.shadow)}")
        for i, (mine, theirs) in enumerate(zip(self.shadow, shadow)):
            if mine.shape != theirs.shape:
                raise ValueError(f"EMA tensor {i} has shape {tuple(theirs.shape)}, expected {tuple(mine.shape)}")
        self.decay = float(state["decay"])
        self.num_updates = int(state["num_updates"])
        self.shadow = [t.detach().clone().to(m.device, m.dtype) for t, m in zip(shadow, self.shadow)]

    def _check(self, params: list[torch.Tensor]) -> None:
        if len(params) != len(self.shadow):
            raise ValueError(f"EMA holds {len(self.shadow)} tensors, got {len(params)} parameters")
