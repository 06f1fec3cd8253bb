"""The training dataset: image/mask pairs through the spec 9.2 pipeline.

Per item: read the image (as RGB) and its ID mask; bring the mask to the image size with nearest
neighbour (CelebAMask-HQ pairs 1024 images with 512 masks); black out background pixels; take
the model's frame; resize it to `size`; flip both with probability 0.5; encode the labels.

The model's frame is the central 256/320 square of a CelebA-aligned picture ("celeba" framing,
spec 9.2) or the whole square picture for datasets that are already in the model's frame
("model" framing, recorded in the dataset's meta.json, as the procedural heads are). Resizing is
a single antialiased step from the frame (PIL bilinear with its support widened by the scale,
like torchvision's antialias=True) instead of the official two aliased steps, and nearest
neighbour for masks. Flipping swaps the left/right label pairs unless swap_lr_on_flip=False
(the official code does not swap, spec 8.5).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from models.data.scan import DatasetError, DatasetReport, load_image, load_mask, scan_dataset
from models.labels import LEFT_RIGHT_PAIRS, NUM_CLASSES, semantic_target

CELEBA_FRAME = 256 / 320


def _swap_table() -> np.ndarray:
    table = np.arange(NUM_CLASSES, dtype=np.uint8)
    for left, right in LEFT_RIGHT_PAIRS:
        table[left], table[right] = right, left
    return table


SWAP_LEFT_RIGHT = _swap_table()


class SegmentationDataset(Dataset):
    """Items (image (3, R, R) in [-1, 1], labels (18, R, R) in {-1, +1}, 0) as in spec 9.2."""

    def __init__(self, root: str | Path, size: int, layout: str = "auto", flip: bool = True,
                 swap_lr_on_flip: bool = True, framing: str = "auto"):
        if size < 1:
            raise ValueError(f"size must be positive, got {size}")
        if framing not in ("auto", "celeba", "model"):
            raise ValueError(f"unknown framing {framing!r}; use auto, celeba or model")
        self.report: DatasetReport = scan_dataset(root, layout)
        self.report.raise_for_problems()
        unpaired = len(self.report.missing_masks), len(self.report.missing_images)
        if not self.report.pairs:
            raise DatasetError(root, f"no image/mask pairs ({unpaired[0]} images without a mask, "
                                     f"{unpaired[1]} masks without an image)")
        if sum(unpaired):
            warnings.warn(f"{root}: {unpaired[0]} images without a mask and {unpaired[1]} masks without "
                          "an image are skipped", stacklevel=2)
        self.size = size
        self.flip = flip
        self.swap_lr_on_flip = swap_lr_on_flip
        self.framing = self.report.framing if framing == "auto" else framing

    def __len__(self) -> int:
        return len(self.report.pairs)

    def load_pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The framed pair without flipping: image uint8 (R, R, 3) and ID mask uint8 (R, R)."""
        pair = self.report.pairs[index]
        image, mask = load_image(pair.image), load_mask(pair.mask)
        height, width = image.shape[:2]
        if mask.shape != (height, width):
            if mask.shape[0] * width != mask.shape[1] * height:
                raise DatasetError(pair.mask, f"mask is {mask.shape[1]}x{mask.shape[0]} but its image "
                                              f"is {width}x{height}", "size_mismatch")
            mask = np.asarray(Image.fromarray(mask).resize((width, height), Image.NEAREST))
        image = np.where(mask[..., None] == 0, 0, image).astype(np.uint8)
        side = min(width, height) * (CELEBA_FRAME if self.framing == "celeba" else 1.0)
        box = ((width - side) / 2, (height - side) / 2, (width + side) / 2, (height + side) / 2)
        target = (self.size, self.size)
        image = np.asarray(Image.fromarray(image).resize(target, Image.BILINEAR, box=box))
        mask = np.asarray(Image.fromarray(mask).resize(target, Image.NEAREST, box=box))
        return image, mask

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        image, mask = self.load_pair(index)
        if self.flip and bool(torch.rand(()) < 0.5):
            image, mask = image[:, ::-1], mask[:, ::-1]
            if self.swap_lr_on_flip:
                mask = SWAP_LEFT_RIGHT[mask]
        pixels = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 127.5 - 1.0
        labels = torch.from_numpy(semantic_target(np.ascontiguousarray(mask)))
        return pixels, labels, 0
