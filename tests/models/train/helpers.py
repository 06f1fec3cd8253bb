"""Small datasets and curricula for trainer tests (16 px, tiny networks: a step takes ~0.1 s on CPU)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from models.labels import NUM_CLASSES, semantic_target
from models.train.curriculum import Curriculum, Stage, get_curriculum

TINY_GENERATOR = {"grid": True, "z_geo_dim": 32, "z_app_dim": 32, "hidden_dim": 32, "geo_layers": 3,
                  "app_layers": 2, "mapping_hidden": 32, "mapping_depth": 2, "label_layers": 2,
                  "grid_channels": 4, "grid_resolution": 8}
TINY_WIDTHS = (8, 16, 16, 16, 16, 16, 16, 16)


def tiny_curriculum(stages: tuple[Stage, ...] | None = None, **changes) -> Curriculum:
    """cpu_tiny with a smaller generator and discriminator and short schedules."""
    base = get_curriculum("cpu_tiny")
    data = base.to_dict()
    data.update(generator=TINY_GENERATOR, discriminator_widths=TINY_WIDTHS, fade_steps=4, topk_interval=2,
                nerf_noise_steps=4)
    data["stages"] = [vars(s) for s in (stages or (Stage(0, 4, 6, 16, 2, 1e-3, 2e-3, 2e-3),))]
    data.update(changes)
    return Curriculum.from_dict(data, "tiny test curriculum")


def face_like(size: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic toy portrait: uint8 RGB (size, size, 3) and label ids (size, size)."""
    rng = np.random.default_rng(index)
    yy, xx = np.mgrid[0:size, 0:size] / size
    ids = np.zeros((size, size), np.uint8)
    cx, cy = 0.5 + rng.uniform(-0.05, 0.05), 0.5 + rng.uniform(-0.05, 0.05)
    ids[(xx - cx) ** 2 / 0.09 + (yy - cy) ** 2 / 0.14 < 1] = 1                    # skin
    ids[(xx - cx + 0.12) ** 2 + (yy - cy + 0.08) ** 2 < 0.003] = 4                  # l_eye
    ids[(xx - cx - 0.12) ** 2 + (yy - cy + 0.08) ** 2 < 0.003] = 5                  # r_eye
    ids[(np.abs(xx - cx) < 0.1) & (np.abs(yy - cy - 0.18) < 0.03)] = 11             # u_lip
    ids[(yy < cy - 0.25) & ((xx - cx) ** 2 / 0.12 + (yy - cy) ** 2 / 0.2 < 1)] = 13  # hair
    palette = rng.integers(40, 220, size=(NUM_CLASSES, 3))
    image = palette[ids].astype(np.uint8)
    image[ids == 0] = 0
    return image, ids


class MemoryDataset(Dataset):
    """(image in [-1, 1], 18 labels in {-1, +1}, 0) items of toy portraits; random flips draw
    from the global torch RNG like a real dataset's augmentation."""

    def __init__(self, size: int, count: int = 12):
        self.items = []
        for k in range(count):
            image, ids = face_like(size, k)
            img = torch.from_numpy(image).permute(2, 0, 1).float() / 127.5 - 1
            labels = torch.from_numpy(semantic_target(ids).astype(np.float32))
            self.items.append((img, labels))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        img, labels = self.items[index]
        if torch.rand(()) < 0.5:
            img, labels = img.flip(-1), labels.flip(-1)
        return img, labels, 0


def write_dataset(root: Path, count: int = 8, size: int = 64) -> Path:
    """The toy portraits on disk in the CelebAMask-HQ layout (<k>.jpg images, <k>.png id masks)."""
    (root / "celebahq_mask_img").mkdir(parents=True, exist_ok=True)
    (root / "celebahq_mask_mask").mkdir(parents=True, exist_ok=True)
    for k in range(count):
        image, ids = face_like(size, k)
        Image.fromarray(image).save(root / "celebahq_mask_img" / f"{k}.jpg", quality=95)
        Image.fromarray(ids).save(root / "celebahq_mask_mask" / f"{k}.png")
    return root


def write_curricula(path: Path) -> Path:
    """A curricula file with one tiny curriculum `tiny` (16 px, 6 samples per ray, batch 2)."""
    generator = ", ".join(f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in TINY_GENERATOR.items())
    path.write_text(
        "[curricula.tiny]\n"
        f"generator = {{ {generator} }}\n"
        f"discriminator_widths = {list(TINY_WIDTHS)}\n"
        "fade_steps = 4\nnerf_noise_steps = 4\ntopk_interval = 2\nend_step = 100000\n"
        "stages = [{ start = 0, batch_size = 2, num_steps = 6, img_size = 16, batch_split = 1, "
        "gen_lr = 1e-3, disc_img_lr = 2e-3, disc_seg_lr = 2e-3 }]\n")
    return path
