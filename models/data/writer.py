"""Writing a procedural-heads dataset in the CelebAMask-HQ layout.

OUT/celebahq_mask_img/<k>.jpg (JPEG quality 95, no chroma subsampling: at 64 px it would smear
the small features), OUT/celebahq_mask_mask/<k>.png (8-bit ids),
OUT/latents.npz (z_geo, z_app, yaw, pitch per sample) and OUT/meta.json. Sample k depends only
on (seed, k): its latents and pose come from a generator seeded with SeedSequence([seed, k]).
Samples are rendered in fixed chunks of CHUNK with one torch thread, so the files are
byte-identical for the same seed, count and size whatever the number of workers. Every file is
written under a temporary name and renamed; a re-run skips the samples already on disk, so an
interrupted run can simply be started again.
"""
from __future__ import annotations

import io
import json
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from models.io.atomic import atomic_write_stream
from models.data.head_params import APP_DIMS, GEO_DIMS, HeadParams
from models.data.head_render import (DEMO_FRAMING_LANDMARKS, FOV_DEG, POSE_STDDEV, render_heads,
                                     sample_head_poses)
from models.data.scan import LAYOUTS, META_FILE, DatasetError
from models.render.camera import FRONT

GENERATOR_VERSION = "procedural-heads-1"
CHUNK = 64
LATENTS_FILE = "latents.npz"
JPEG_QUALITY = 95


def sample_latents(seed: int, count: int) -> dict[str, np.ndarray]:
    """Latents and poses of samples 0..count-1: z_geo (N, GEO_DIMS), z_app (N, APP_DIMS), yaw, pitch (N,)."""
    rows = []
    for k in range(count):
        state = np.random.SeedSequence([seed, k]).generate_state(2, np.uint32)
        generator = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
        z_geo = torch.randn((1, GEO_DIMS), generator=generator)
        z_app = torch.randn((1, APP_DIMS), generator=generator)
        yaw, pitch = sample_head_poses(1, generator)
        rows.append((z_geo, z_app, yaw, pitch))
    names = ("z_geo", "z_app", "yaw", "pitch")
    return {name: torch.cat([row[i] for row in rows]).numpy() for i, name in enumerate(names)}


def render_pairs(z_geo: np.ndarray, z_app: np.ndarray, yaw: np.ndarray, pitch: np.ndarray, size: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (B, S, S, 3) and ID masks uint8 (B, S, S) for the given latents and poses."""
    with torch.inference_mode():
        params = HeadParams.from_latents(torch.from_numpy(z_geo), torch.from_numpy(z_app))
        images, masks = render_heads(params, torch.from_numpy(yaw), torch.from_numpy(pitch), size)
    pixels = (images.permute(0, 2, 3, 1) * 255.0).round().clamp(0, 255).to(torch.uint8)
    return pixels.numpy(), masks.numpy()


def write_dataset(out: str | Path, count: int, size: int, seed: int, workers: int = 1,
                  progress: bool = True) -> Path:
    """Render `count` pairs of side `size` into OUT (created if needed); returns OUT."""
    if count < 1 or size < 8 or workers < 1:
        raise ValueError(f"need count >= 1, size >= 8 and workers >= 1 (got {count}, {size}, {workers})")
    out = Path(out)
    image_dir, mask_dir = (out / d for d in LAYOUTS["celebamask"])
    image_dir.mkdir(parents=True, exist_ok=True)
    mask_dir.mkdir(exist_ok=True)
    meta = _meta(seed, count, size)
    _check_existing(out, meta)
    latents = sample_latents(seed, count)
    atomic_write_stream(out / LATENTS_FILE, lambda f: np.savez(f, ids=np.arange(count), **latents))
    _write_meta(out, {**meta, "complete": False})
    chunks = [(start, min(start + CHUNK, count)) for start in range(0, count, CHUNK)]
    todo = [c for c in chunks if not all(_done(out, k) for k in range(*c))]
    from tqdm import tqdm
    with tqdm(total=count, initial=count - sum(b - a for a, b in todo), unit="pair", disable=not progress,
              desc="make-dataset") as bar:
        jobs = [(str(out), a, b, size, {k: v[a:b] for k, v in latents.items()}) for a, b in todo]
        if workers == 1:
            for job in jobs:
                bar.update(_write_chunk(*job))
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                for done in pool.map(_write_chunk_job, jobs):
                    bar.update(done)
    _write_meta(out, {**meta, "complete": True})
    return out


def _meta(seed: int, count: int, size: int) -> dict:
    return {
        "layout": "celebamask", "generator_version": GENERATOR_VERSION, "seed": seed, "count": count,
        "size": size, "framing": "model", "fov_deg": FOV_DEG,
        "pose": {"dist": "gaussian", "yaw_mean": FRONT, "pitch_mean": FRONT,
                 "yaw_stddev": POSE_STDDEV[0], "pitch_stddev": POSE_STDDEV[1]},
        "latent_dims": {"geo": GEO_DIMS, "app": APP_DIMS},
        "framing_landmarks": {"left_eye": DEMO_FRAMING_LANDMARKS[0], "right_eye": DEMO_FRAMING_LANDMARKS[1],
                              "mouth": DEMO_FRAMING_LANDMARKS[2]},
    }


def _check_existing(out: Path, meta: dict) -> None:
    path = out / META_FILE
    if not path.exists():
        return
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(path, f"unreadable dataset description ({exc})", "unreadable") from exc
    keys = ("generator_version", "seed", "count", "size")
    if not isinstance(old, dict) or any(old.get(k) != meta[k] for k in keys):
        was = ", ".join(f"{k} {old.get(k)!r}" for k in keys) if isinstance(old, dict) else "another format"
        raise DatasetError(out, f"already holds a different dataset ({was}); use another folder")


def _write_meta(out: Path, meta: dict) -> None:
    text = json.dumps(meta, indent=2).encode()
    atomic_write_stream(out / META_FILE, lambda f: f.write(text))


def _paths(out: Path, k: int) -> tuple[Path, Path]:
    image_dir, mask_dir = LAYOUTS["celebamask"]
    return out / image_dir / f"{k}.jpg", out / mask_dir / f"{k}.png"


def _done(out: Path, k: int) -> bool:
    return all(p.exists() for p in _paths(out, k))


def _write_chunk_job(job: tuple) -> int:
    return _write_chunk(*job)


def _write_chunk(out: str, start: int, stop: int, size: int, latents: dict[str, np.ndarray]) -> int:
    """Render samples start..stop-1 and write the files that are not on disk yet."""
    out = Path(out)
    images, masks = render_pairs(latents["z_geo"], latents["z_app"], latents["yaw"], latents["pitch"], size)
    for i, k in enumerate(range(start, stop)):
        image_path, mask_path = _paths(out, k)
        if not image_path.exists():
            atomic_write_stream(image_path, lambda f, a=images[i]: _encode(f, a, "JPEG"), durable=False)
        if not mask_path.exists():
            atomic_write_stream(mask_path, lambda f, a=masks[i]: _encode(f, a, "PNG"), durable=False)
    return stop - start


def _encode(f: io.BufferedIOBase, array: np.ndarray, fmt: str) -> None:
    options = {"quality": JPEG_QUALITY, "subsampling": 0} if fmt == "JPEG" else {}
    Image.fromarray(array).save(f, format=fmt, **options)
