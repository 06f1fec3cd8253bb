"""What an inversion writes into its output folder: codes (official + ours), reconstruction renders
from several views, the loss/mIoU history (CSV + plot) and an orbit video. Every file is atomic."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from models.field.codes import Codes
from models.field.generator import Generator
from models.invert.optimize import StepRecord
from models.invert.session_codes import SUFFIX, PortraitCodes, save_codes
from models.io.atomic import atomic_path, atomic_write_text
from models.io.images import hstack, save_image
from models.render.options import RenderOptions
from models.render.renderer import prepare, render

VIEW_OFFSETS = (-0.4, -0.2, 0.0, 0.2, 0.4)      # yaw offsets of the reconstruction views (radians)
LOSS_KEYS = ("seg", "img", "percept", "norm", "total")
CSV_FIELDS = ("iteration", "elapsed_s", "lr", "rays", *LOSS_KEYS, "miou", "miou19", "best")


def official_name(name: str) -> str:
    return f"freq_phase_offset_{name}.pth"


def write_codes(out: Path, name: str, codes: PortraitCodes) -> tuple[Path, Path]:
    """`freq_phase_offset_<name>.pth` (official layout) and `<name>.fcodes` (ours)."""
    return save_codes(out / official_name(name), codes), save_codes(out / f"{name}{SUFFIX}", codes)


def write_history(out: Path, history: list[StepRecord], stem: str = "progress") -> tuple[Path, Path]:
    """The per-iteration CSV and a plot of the losses and the mIoU."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, CSV_FIELDS)
    writer.writeheader()
    for r in history:
        row = {"iteration": r.iteration, "elapsed_s": f"{r.elapsed:.3f}", "lr": f"{r.lr:.6g}", "rays": r.rays,
               "miou": "" if r.miou is None else f"{r.miou:.4f}",
               "miou19": "" if r.miou19 is None else f"{r.miou19:.4f}", "best": int(r.best)}
        row.update({k: f"{r.losses[k]:.6g}" for k in LOSS_KEYS if k in r.losses})
        writer.writerow(row)
    csv_path = out / f"{stem}.csv"
    atomic_write_text(csv_path, buf.getvalue())
    plot_path = out / f"{stem}.png"
    _plot(history, plot_path)
    return csv_path, plot_path


def _plot(history: list[StepRecord], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    fig = Figure(figsize=(8, 3.2), dpi=100)
    ax_loss, ax_iou = fig.subplots(1, 2)
    steps = [r for r in history if r.losses]
    for key in LOSS_KEYS:
        xs = [r.iteration for r in steps if key in r.losses]
        ys = [r.losses[key] for r in steps if key in r.losses]
        if ys and max(ys) > 0:
            ax_loss.plot(xs, ys, label=key, lw=1)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_title("losses")
    ax_loss.legend(fontsize=7)
    evals = [r for r in history if r.miou is not None]
    ax_iou.plot([r.iteration for r in evals], [r.miou for r in evals], "o-", ms=3, label="mIoU (present classes)")
    ax_iou.plot([r.iteration for r in evals], [r.miou19 for r in evals], "s-", ms=3, label="mIoU (19, official)")
    ax_iou.set_ylim(0, 1)
    ax_iou.set_xlabel("iteration")
    ax_iou.set_title("mIoU")
    ax_iou.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def write_views(out: Path, generator: Generator, codes: Codes, opts: RenderOptions,
                offsets: tuple[float, ...] = VIEW_OFFSETS, stem: str = "recon") -> list[Path]:
    """Image | colour mask per view (`<stem>_yaw+0.20.png`), plus the raw frontal ID mask."""
    prepared = prepare(generator, codes, opts.lock_view)
    paths = []
    for off in offsets:
        r = render(generator, codes, math.pi / 2 + off, math.pi / 2, opts, prepared=prepared)
        paths.append(save_image(out / f"{stem}_yaw{off:+.2f}.png", hstack([r.rgb_uint8(), r.mask_rgb()])))
        if off == 0:
            paths.append(save_image(out / f"{stem}_mask_ids.png", r.mask_ids()))
    return paths


def front_trajectory(frames: int) -> list[tuple[float, float]]:
    """The official 'front' trajectory (yaw, pitch), t over [0, 1] (spec 12.6)."""
    ts = np.linspace(0, 1, frames)
    return [(math.pi / 2 + 0.4 * math.sin(2 * math.pi * t), math.pi / 2 + 0.2 * math.cos(2 * math.pi * t)) for t in ts]


def write_orbit(path: Path, generator: Generator, codes: Codes, opts: RenderOptions, frames: int = 48,
                fps: int = 25) -> Path:
    """MP4 of [RGB | colour mask | 50/50 blend] along the front trajectory (no per-frame normalising)."""
    import imageio_ffmpeg
    prepared = prepare(generator, codes, opts.lock_view)
    size = (3 * opts.img_size, opts.img_size)
    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(str(tmp), size, fps=fps, codec="libx264", macro_block_size=1,
                                             output_params=["-f", "mp4"])
        writer.send(None)
        try:
            for yaw, pitch in front_trajectory(frames):
                r = render(generator, codes, yaw, pitch, opts, prepared=prepared)
                rgb, mask = r.rgb_uint8(), r.mask_rgb()
                blend = ((rgb.astype(np.uint16) + mask) // 2).astype(np.uint8)
                writer.send(np.ascontiguousarray(hstack([rgb, mask, blend])))
        finally:
            writer.close()
    return path
