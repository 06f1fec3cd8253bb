"""Real batches for training (spec 9.3): one dataset per resolution, a DataLoader per stage over a
resumable DistributedSampler, and a position (epoch, samples consumed) that checkpoints save."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader, Dataset

from models.train.distributed import DistInfo, ResumableSampler

DatasetFactory = Callable[[int], Dataset]     # image size -> dataset of (image, labels18, _)


def segmentation_dataset_factory(root: str | Path, flip: bool, swap_lr_on_flip: bool) -> DatasetFactory:
    """Datasets in the CelebAMask-HQ layout (`models.data.datasets.SegmentationDataset`)."""
    from models.data.datasets import SegmentationDataset

    def build(size: int) -> Dataset:
        return SegmentationDataset(root, size, flip=flip, swap_lr_on_flip=swap_lr_on_flip)
    return build


def dataset_framing(root: str | Path) -> dict | None:
    """The framing (models/intake/framing.py dict) a dataset's meta.json declares through its
    `framing_landmarks` (procedural datasets do), or None when it declares none."""
    import json

    from models.intake.framing import Framing
    meta = Path(root) / "meta.json"
    try:
        marks = json.loads(meta.read_text()).get("framing_landmarks")
        eyes = [marks["left_eye"], marks["right_eye"]]
        eye_mid = ((eyes[0][0] + eyes[1][0]) / 2, (eyes[0][1] + eyes[1][1]) / 2)
        return Framing.from_landmarks(eye_mid, tuple(marks["mouth"]), None, "dataset").to_dict()
    except (OSError, ValueError, AttributeError, KeyError, TypeError, IndexError):
        return None


class BatchStream:
    """Endless (images, labels) batches for the current stage. Changing the image size or the batch
    size starts a new epoch on a new loader (as the official epoch loop does). With num_workers 0
    the data order and augmentation draws are exactly reproducible from `state()`."""

    def __init__(self, factory: DatasetFactory, info: DistInfo, seed: int, num_workers: int = 0,
                 device: torch.device = torch.device("cpu")):
        self.factory = factory
        self.info = info
        self.seed = seed
        self.num_workers = num_workers
        self.device = device
        self.epoch = 0
        self.consumed = 0
        self.img_size: int | None = None
        self.batch_size: int | None = None
        self._dataset: Dataset | None = None
        self._dataset_size: int | None = None
        self._iterator = None

    def configure(self, img_size: int, batch_size: int) -> None:
        """Use this stage's image and batch size (a change starts a new epoch)."""
        if (img_size, batch_size) == (self.img_size, self.batch_size):
            return
        if self.img_size is not None and self.consumed:
            self.epoch += 1
            self.consumed = 0
        self.img_size, self.batch_size = img_size, batch_size
        self._iterator = None

    def check(self, img_size: int, batch_size: int) -> None:
        """Open the dataset at `img_size` now (its errors surface before training starts) and check
        it holds at least one batch per process."""
        self._open(img_size, batch_size)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch, moved to the training device."""
        if self.img_size is None:
            raise RuntimeError("BatchStream.configure() must be called before next()")
        while True:
            if self._iterator is None:
                self._iterator = iter(self._loader())
            try:
                images, labels, *_ = next(self._iterator)
                break
            except StopIteration:
                self.epoch += 1
                self.consumed = 0
                self._iterator = None
        self.consumed += images.shape[0]
        return images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)

    def state(self) -> dict:
        return {"epoch": self.epoch, "consumed": self.consumed, "img_size": self.img_size,
                "batch_size": self.batch_size}

    def load_state(self, state: dict) -> None:
        self.epoch, self.consumed = int(state["epoch"]), int(state["consumed"])
        self.img_size, self.batch_size = state["img_size"], state["batch_size"]
        self._iterator = None

    def _open(self, img_size: int, batch_size: int) -> Dataset:
        if self._dataset is None or self._dataset_size != img_size:
            self._dataset, self._dataset_size = self.factory(img_size), img_size
        needed = batch_size * self.info.world_size
        if len(self._dataset) < needed:
            raise ValueError(f"the dataset holds {len(self._dataset)} samples; a batch needs at least {needed} "
                             f"({batch_size} per process x {self.info.world_size} processes)")
        return self._dataset

    def _loader(self) -> DataLoader:
        self._open(self.img_size, self.batch_size)
        sampler = ResumableSampler(self._dataset, self.info, self.seed)
        sampler.set_position(self.epoch, self.consumed)
        return DataLoader(self._dataset, batch_size=self.batch_size, sampler=sampler, num_workers=self.num_workers,
                          drop_last=True, pin_memory=self.device.type == "cuda",
                          generator=torch.Generator().manual_seed(self.seed + self.epoch),
                          persistent_workers=False)
