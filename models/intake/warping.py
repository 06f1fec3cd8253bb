"""Affine resampling in continuous pixel coordinates, shared by detection, alignment and parsing.

Pixel (i, j) covers [i, i+1) x [j, j+1); a (2, 3) matrix maps source points to output points.
"""
from __future__ import annotations

import cv2
import numpy as np

from models.intake.image_io import Photo


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine map."""
    linear = np.linalg.inv(matrix[:, :2])
    return np.column_stack([linear, -linear @ matrix[:, 2]])


def for_cv(matrix: np.ndarray) -> np.ndarray:
    """Continuous-coordinate affine -> OpenCV's convention (pixel centres on integers)."""
    shift = matrix[:, :2] @ np.array([0.5, 0.5]) - 0.5
    return np.column_stack([matrix[:, :2], matrix[:, 2] + shift])


def scaled_source(matrix: np.ndarray, fx: float, fy: float | None = None) -> np.ndarray:
    """The same map for a source image resampled by (fx, fy) (new pixels per original pixel)."""
    return np.column_stack([matrix[:, 0] / fx, matrix[:, 1] / (fx if fy is None else fy), matrix[:, 2]])


def for_pixels(matrix: np.ndarray, photo: Photo) -> np.ndarray:
    """A map from the photo frame rewritten for the photo's (possibly downscaled) working pixels."""
    return scaled_source(matrix, photo.rgb.shape[1] / photo.size[0], photo.rgb.shape[0] / photo.size[1])


def _needed_region(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int], margin: float):
    """(x0, y0, x1, y1) of the source pixels the output can read, clipped to the image."""
    corners = np.array([[0, 0], [size[0], 0], [0, size[1]], [size[0], size[1]]], float)
    inverse = invert(matrix)
    points = corners @ inverse[:, :2].T + inverse[:, 2]
    low = np.floor(points.min(0) - margin).clip(0, [image.shape[1] - 1, image.shape[0] - 1]).astype(int)
    high = np.ceil(points.max(0) + margin).astype(int).clip(None, [image.shape[1], image.shape[0]])
    return low[0], low[1], max(high[0], low[0] + 1), max(high[1], low[1] + 1)


def warp(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int], *, nearest: bool = False,
         border: int = cv2.BORDER_REFLECT_101) -> np.ndarray:
    """Resample `image` through `matrix` (image px -> output px) into (width, height) `size`.

    Only the source region the output reads is touched; strong reductions are pre-shrunk by
    Gaussian pyramid halvings so the result does not alias.
    """
    zoom = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if not nearest and zoom < 0.5:
        x0, y0, x1, y1 = _needed_region(image, matrix, size, margin=4.0 / zoom)
        if x1 - x0 < image.shape[1] or y1 - y0 < image.shape[0]:
            matrix = np.column_stack([matrix[:, :2], matrix[:, 2] + matrix[:, :2] @ np.array([x0, y0], float)])
            image = image[y0:y1, x0:x1]
    while not nearest and zoom < 0.5 and min(image.shape[:2]) >= 2:
        # pyrDown's pixel i is centred on source pixel 2i: source x = 2 x_half - 0.5 (continuous)
        matrix = np.column_stack([matrix[:, :2] * 2, matrix[:, 2] - 0.5 * matrix[:, :2].sum(1)])
        image, zoom = cv2.pyrDown(image), zoom * 2
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.warpAffine(image, for_cv(matrix), size, flags=flags, borderMode=border, borderValue=0)
