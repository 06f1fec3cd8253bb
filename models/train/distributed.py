"""Distributed training helpers: process-group setup from torchrun's environment, a resumable
DistributedSampler, and small collectives. gloo on CPU, nccl on CUDA; only rank 0 writes files."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_from_env(device_type: str) -> DistInfo:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT);
    a single process when those variables are absent or WORLD_SIZE is 1."""
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
    backend = "nccl" if device_type == "cuda" else "gloo"
    if device_type == "cuda":
        torch.cuda.set_device(info.local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
    # 1x1-conv weight gradients from oneDNN carry different (equivalent) strides for their size-1
    # dimensions; DDP copies them into its buckets correctly but warns every step.
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    return info


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True on every rank if `flag` is true on any (used to stop all ranks at the same step)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def gather_objects(obj, info: DistInfo) -> list:
    """Every rank's `obj`, in rank order (a one-element list when not distributed)."""
    if not info.enabled:
        return [obj]
    out: list = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


class ResumableSampler(DistributedSampler):
    """DistributedSampler (shuffled per epoch from `seed + epoch`, this rank's share) that can
    start part-way through an epoch, so a resumed run sees the same samples as an uninterrupted one."""

    def __init__(self, dataset, info: DistInfo, seed: int, shuffle: bool = True):
        super().__init__(dataset, num_replicas=info.world_size, rank=info.rank, shuffle=shuffle,
                         seed=seed, drop_last=True)
        self.skip = 0

    def set_position(self, epoch: int, consumed: int) -> None:
        """Start at sample `consumed` (of this rank's share) of `epoch`."""
        self.set_epoch(epoch)
        self.skip = consumed

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.skip:])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.skip)
