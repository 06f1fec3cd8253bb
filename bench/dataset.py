"""Procedural dataset speed: rendered pairs per second at 64^2 and 128^2, and `make-dataset` end to end.

    python bench/dataset.py [--heads 64] [--write]

Rendering (trace + label + lit colour) of random heads from training poses is timed against a
baseline measured in the same run: the same sphere tracer without the compaction rounds (every
ray marched for every step, as a plain vectorised tracer does). Then the writer end to end
(latents, render, JPEG/PNG encode, atomic writes) with 1 and 2 worker processes. Prints Markdown;
--write replaces the `## Procedural dataset` section of bench/RESULTS.md with it.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import write_section  # noqa: E402
from models.data import head_render  # noqa: E402
from models.data.head_params import HeadParams  # noqa: E402
from models.data.head_shape import head_sdf  # noqa: E402
from models.data.writer import write_dataset  # noqa: E402
from models.render.camera import world_rays  # noqa: E402


def plain_trace(params: HeadParams, yaw, pitch, resolution: int) -> head_render.Trace:
    """Baseline: every ray for all sum(ROUND_STEPS) steps, same step rule and hit test."""
    origin, dirs, _ = world_rays(yaw, pitch, resolution, head_render.FOV_DEG)
    o = origin[:, None, :].expand_as(dirs)
    t, t_end = head_render.box_span(o, dirs)
    cone = head_render.HIT_FRACTION * 2 * math.tan(math.radians(head_render.FOV_DEG) / 2) / (resolution - 1)
    view = params.shape.per_point()
    for _ in range(sum(head_render.ROUND_STEPS)):
        p = o + dirs * t[..., None]
        dist = head_sdf(p[..., 0], p[..., 1], p[..., 2], view)
        t = torch.where((dist > cone * t) & (t < t_end), t + head_render.STEP_SCALE * dist, t)
    hit = (dist <= 2 * cone * t) & (t < t_end)
    return head_render.Trace(o + dirs * t[..., None], hit, t)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _cpu_timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def render_rates(heads: int, resolution: int) -> tuple[tuple[float, float], tuple[float, float], float]:
    """((ours wall s, CPU s), (baseline wall s, CPU s), mask agreement) for `heads` random posed heads."""
    generator = torch.Generator().manual_seed(resolution)
    params = HeadParams.sample(heads, generator)
    yaw, pitch = head_render.sample_head_poses(heads, generator)
    ours = _cpu_timed(lambda: head_render.render_heads(params, yaw, pitch, resolution))
    with torch.inference_mode(), head_render.single_thread():
        plain = _cpu_timed(lambda: head_render.shade_trace(params, plain_trace(params, yaw, pitch, resolution),
                                                           resolution))
        reference = head_render.shade_trace(params, plain_trace(params, yaw, pitch, resolution), resolution)[1]
    agreement = float((head_render.render_heads(params, yaw, pitch, resolution)[1] == reference).float().mean())
    return ours, plain, agreement


def writer_rate(count: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        return count / _timed(lambda: write_dataset(Path(folder) / "heads", count, 64, seed=0, workers=workers,
                                                   progress=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heads", type=int, default=64, help="heads per timed render batch (default 64)")
    parser.add_argument("--count", type=int, default=512, help="pairs written by the end-to-end runs")
    parser.add_argument("--write", action="store_true", help="replace the Procedural dataset section of RESULTS.md")
    args = parser.parse_args()
    rows = ["| what | pairs/s (wall) | pairs/min (wall) | CPU ms/pair | vs baseline (CPU) |", "|---|---|---|---|---|"]
    for resolution in (64, 128):
        heads = args.heads if resolution == 64 else max(args.heads // 4, 4)
        ours, plain, agreement = render_rates(heads, resolution)
        for name, (wall, cpu) in (("plain tracer (baseline)", plain), ("compacted tracer", ours)):
            ratio = f"{plain[1] / cpu:.2f}x" + (f" (masks agree on {agreement:.2%} of pixels)" if cpu != plain[1] else "")
            rows.append(f"| render {resolution}^2, {name} | {heads / wall:.1f} | {heads / wall * 60:.0f} "
                        f"| {cpu / heads * 1000:.0f} | {ratio} |")
    for workers in (1, 2):
        rate = writer_rate(args.count, workers)
        rows.append(f"| make-dataset 64^2, {workers} worker(s), {args.count} pairs incl. start-up and encoding "
                    f"| {rate:.1f} | {rate * 60:.0f} | | |")
    load = os.getloadavg()[0]
    body = "\n".join([
        f"`python bench/dataset.py`: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, rendering on 1 intra-op thread per process; {args.heads} random heads "
        f"from training poses (64 px), {max(args.heads // 4, 4)} at 128 px; wall-clock rates, CPU time of the rendering process.",
        "", *rows, "",
        f"1-minute load average {load:.1f} when finished: the machine is shared, so compare rows, not runs. "
        "The baseline marches every ray for all steps; ours drops finished rays after each round."])
    print(body)
    if args.write:
        write_section("Procedural dataset", body)


if __name__ == "__main__":
    main()
