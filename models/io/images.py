"""Writing rendered arrays as image files, atomically."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from models.io.atomic import atomic_path


def save_image(path: str | Path, array: np.ndarray) -> Path:
    """Save a uint8 (H, W), (H, W, 3) or (H, W, 4) array; format from the suffix."""
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(array)).save(tmp, format=_format(path))
    return path


def _format(path: Path) -> str:
    return {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF"}.get(path.suffix.lower(), "PNG")


def depth_to_color(depth: np.ndarray, opacity: np.ndarray | None = None) -> np.ndarray:
    """The official depth visualisation uint8(depth / 2 * 255) through the JET colour map (RGB)."""
    grey = np.clip(depth / 2 * 255, 0, 255).astype(np.uint8)
    rgb = cv2.applyColorMap(grey, cv2.COLORMAP_JET)[..., ::-1]
    if opacity is not None:
        rgb = (rgb * np.clip(opacity, 0, 1)[..., None]).astype(np.uint8)
    return np.ascontiguousarray(rgb)


def hstack(images: list[np.ndarray]) -> np.ndarray:
    """Side by side, promoting greyscale to RGB."""
    rgb = [np.repeat(i[..., None], 3, -1) if i.ndim == 2 else i[..., :3] for i in images]
    return np.concatenate(rgb, axis=1)
