"""Our own model format: one file holding float32 weights in the safetensors layout (an 8-byte
header length, a JSON header, raw little-endian data) with the model's JSON config embedded in
the header's metadata. Nothing in it is executable; reading never unpickles."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import torch

from models.io.atomic import atomic_path
from models.io.errors import CheckpointError

FORMAT = "fenerf-studio"
VERSION = 1
SUFFIX = ".fenerf"
MAX_HEADER = 16 * 2 ** 20
CONFIG_KEY = "fenerf_config"


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], config: dict) -> None:
    """Write tensors (stored as float32) and a JSON-able config atomically."""
    header: dict = {"__metadata__": {CONFIG_KEY: json.dumps({"format": FORMAT, "version": VERSION, **config})}}
    blobs, offset = [], 0
    for name, tensor in tensors.items():
        data = tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(head)))
        fh.write(head)
        for blob in blobs:
            fh.write(blob)


def read_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a file written by `save_tensors`; validates sizes, dtype and finiteness."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(path, "is a directory, expected a .fenerf model file")
    raw = path.read_bytes()
    if len(raw) < 8:
        raise CheckpointError(path, "file too short to be a FENeRF Studio model (empty or truncated)")
    (head_len,) = struct.unpack("<Q", raw[:8])
    if head_len > min(MAX_HEADER, len(raw) - 8):
        raise CheckpointError(path, "not a FENeRF Studio model file (bad header length; truncated?)")
    try:
        header = json.loads(raw[8:8 + head_len])
        config = json.loads(header.pop("__metadata__")[CONFIG_KEY])
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(path, f"unreadable model header ({exc})") from None
    if config.get("format") != FORMAT:
        raise CheckpointError(path, "header does not declare the fenerf-studio format")
    data = memoryview(raw)[8 + head_len:]
    tensors, used = {}, 0
    for name, entry in header.items():
        start, end = entry["data_offsets"]
        shape = tuple(entry["shape"])
        if entry["dtype"] != "F32" or end - start != 4 * int(np.prod(shape, dtype=np.int64)) or end > len(data):
            raise CheckpointError(path, f"tensor {name}: size or dtype does not match its header (truncated?)")
        tensors[name] = torch.from_numpy(np.frombuffer(data[start:end], dtype="<f4").reshape(shape).copy())
        if not torch.isfinite(tensors[name]).all():
            raise CheckpointError(path, f"tensor {name} holds NaN or infinite values")
        used = max(used, end)
    if used != len(data):
        raise CheckpointError(path, f"{len(data) - used} unexpected trailing bytes after the tensors")
    return tensors, config
