"""Density volumes on disk: NumPy `.npy` and MRC2014 (`.mrc`, what the official shape tool writes).

The array layout follows the official tool (spec 13.3): index [i, j, k] holds the point
(x_i, y_j, z_k). Like `mrcfile`, the writer stores the array in C order with the LAST axis as the
MRC column axis, so a file from either tool has the same bytes for the same array (viewers show
world x along the MRC section axis). Mode 2 (float32), little-endian, space group 1, version 20140;
the voxel size defaults to 1 (grid units) and the world spacing and origin go into a text label.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from models.io.atomic import atomic_path

HEADER_BYTES = 1024
MODE_FLOAT32 = 2
MRC_VERSION = 20140
LITTLE_ENDIAN_STAMP = b"\x44\x44\x00\x00"
LABEL_BYTES = 80
MAX_LABELS = 10


class VolumeFileError(ValueError):
    """A volume file that cannot be read."""


def save_npy(path: str | Path, volume: np.ndarray) -> Path:
    """Write a float32 .npy file atomically."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(volume, dtype=np.float32))
    return path


def mrc_header(shape: tuple[int, int, int], data: np.ndarray, voxel_size: float = 1.0,
               labels: tuple[str, ...] = ()) -> bytes:
    """The 1024-byte MRC2014 header for a C-order float32 array of `shape` (sections, rows, columns)."""
    if len(labels) > MAX_LABELS:
        raise ValueError(f"an MRC header holds at most {MAX_LABELS} labels")
    nz, ny, nx = shape
    header = bytearray(HEADER_BYTES)
    struct.pack_into("<10i", header, 0, nx, ny, nz, MODE_FLOAT32, 0, 0, 0, nx, ny, nz)
    struct.pack_into("<6f", header, 40, nx * voxel_size, ny * voxel_size, nz * voxel_size, 90.0, 90.0, 90.0)
    struct.pack_into("<3i", header, 64, 1, 2, 3)
    struct.pack_into("<3f", header, 76, float(data.min()), float(data.max()), float(data.mean()))
    struct.pack_into("<2i", header, 88, 1, 0)                       # ISPG, NSYMBT
    struct.pack_into("<i", header, 108, MRC_VERSION)
    struct.pack_into("<3f", header, 196, 0.0, 0.0, 0.0)              # ORIGIN
    header[208:212] = b"MAP "
    header[212:216] = LITTLE_ENDIAN_STAMP
    struct.pack_into("<f", header, 216, float(data.std()))
    struct.pack_into("<i", header, 220, len(labels))
    for n, text in enumerate(labels):
        raw = text.encode("ascii", "replace")[:LABEL_BYTES]
        header[224 + n * LABEL_BYTES:224 + n * LABEL_BYTES + len(raw)] = raw
    return bytes(header)


def save_mrc(path: str | Path, volume: np.ndarray, voxel_size: float = 1.0, labels: tuple[str, ...] = ()
             ) -> Path:
    """Write a 3D array as an MRC2014 float32 volume, atomically."""
    data = np.ascontiguousarray(volume, dtype="<f4")
    if data.ndim != 3:
        raise ValueError(f"an MRC volume must be 3D, got shape {data.shape}")
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(mrc_header(data.shape, data, voxel_size, labels))
        fh.write(data.tobytes())
    return path


def load_mrc(path: str | Path) -> np.ndarray:
    """Read a little-endian mode-2 MRC file (no extended header) back into the writer's layout."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < HEADER_BYTES or raw[208:212] != b"MAP ":
        raise VolumeFileError(f"{path}: not an MRC2014 file (no 'MAP ' stamp)")
    nx, ny, nz, mode = struct.unpack_from("<4i", raw, 0)
    extended = struct.unpack_from("<i", raw, 92)[0]
    if mode != MODE_FLOAT32 or raw[212:214] != LITTLE_ENDIAN_STAMP[:2]:
        raise VolumeFileError(f"{path}: only little-endian float32 (mode 2) volumes are supported, got mode {mode}")
    count = nx * ny * nz
    start = HEADER_BYTES + extended
    if len(raw) < start + 4 * count:
        raise VolumeFileError(f"{path}: truncated ({len(raw)} bytes for a {nx}x{ny}x{nz} volume)")
    return np.frombuffer(raw, "<f4", count, start).reshape(nz, ny, nx).copy()
