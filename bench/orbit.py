"""Orbit view speed and fidelity: bake once, render views from the bake, against direct renders.

For each model: the bake time (coarse pass + grid + marcher set-up), the per-frame time of 128^2
frames marched from the bake along an orbit (median and best of 24), the direct deterministic
render time of the same views in the same run (`render(gen, codes, yaw, pitch, RenderOptions(
img_size=128, num_steps=24, lock_view=True))`), and PSNR (RGB, [-1, 1] range) and mask agreement of
baked vs direct frames at four views (mean and worst). Models: the official-size grid generator
with official initialisation (random weights), the two official-format fixture models (structured
random fields, decompressed from ../shared/fixtures), any trained official-size checkpoints given
with --official (a user's pretrained FENeRF, or one made by `fenerf distill --architecture
official-grid`) and the demo model (the realistic case).

    python bench/orbit.py [--threads 1 2] [--resolution 128] [--official PATH ...] [--demo PATH] [--write]

Targets (issue 7): >= 30 fps at 128^2, bake <= 15 s (official size) / <= 2 s (demo), PSNR >= 30 dB,
mask agreement >= 97%. --write replaces the `## Orbit` section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import itertools
import lzma
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from models.bake.camera import OrbitCamera  # noqa: E402
from models.bake.progressive import OrbitSession  # noqa: E402
from models.field.config import GeneratorConfig  # noqa: E402
from models.field.generator import Generator  # noqa: E402
from models.field.latents import codes_for_seeds  # noqa: E402
from models.io.model import DEMO_MODEL, load_model  # noqa: E402
from models.render.options import RenderOptions  # noqa: E402
from models.render.renderer import render  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
RUN_DEMO = Path("/work/runs/demo_distill/model.fenerf")
FRONT = math.pi / 2
VIEWS = ((FRONT, FRONT), (FRONT + 0.3, FRONT), (FRONT - 0.3, FRONT - 0.1), (FRONT + 0.15, FRONT - 0.15))
ORBIT_FRAMES = 24
BAKE_TARGET_S = {"official-size": 15.0, "demo": 2.0}   # by the first word of the model's name
SIZE = 128


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return 99.0 if mse == 0 else 10 * math.log10(4 / mse)


def models(tmp: Path, demo_arg: str | None, official_args: list[str]) -> list[tuple[str, Generator, list[int]]]:
    """(name, generator, seeds) for every model found."""
    torch.manual_seed(0)
    official = Generator(GeneratorConfig.official(grid=True))
    official.siren.init_official()
    found = [("official-size grid, random init", official.requires_grad_(False).eval(), [0])]
    fixtures = SHARED / "fixtures"
    if fixtures.is_dir():
        for tag, prefix in (("fixture A (grid)", "gridA_200000_"), ("fixture B (no grid)", "nogridB_200000_")):
            for part in ("generator", "ema"):
                (tmp / f"{prefix}{part}.pth").write_bytes(lzma.open(fixtures / f"{prefix}{part}.pth.xz").read())
            found.append((tag, load_model(tmp / f"{prefix}generator.pth").generator, [3]))
    for path in official_args:
        trained = load_model(path).generator
        if trained.cfg.hidden_dim != official.cfg.hidden_dim:
            raise SystemExit(f"{path}: hidden width {trained.cfg.hidden_dim}, not the official {official.cfg.hidden_dim}")
        found.append((f"official-size {'grid' if trained.cfg.grid else 'no grid'}, trained ({path})", trained, [0, 1]))
    demo = Path(demo_arg) if demo_arg else DEMO_MODEL if DEMO_MODEL.exists() else RUN_DEMO
    if demo.exists():
        copy = tmp / "demo.fenerf"                     # the training run replaces its file atomically
        shutil.copyfile(demo, copy)
        found.append((f"demo model ({demo})", load_model(copy).generator, [0, 1]))
    else:
        print(f"demo model not found at {demo}; skipped")
    return found


def measure(gen: Generator, seed: int, resolution: int) -> dict:
    codes = codes_for_seeds(gen, [seed], 0.7)
    opts = RenderOptions(img_size=SIZE, num_steps=24, lock_view=True)
    start, cpu = time.perf_counter(), time.process_time()
    session = OrbitSession(gen, codes)
    session.bake(resolution)
    bake_s, bake_cpu = time.perf_counter() - start, time.process_time() - cpu
    frame_s, frame_cpu = [], []
    camera = OrbitCamera()
    for i in range(ORBIT_FRAMES):
        camera.set(yaw=FRONT + 0.4 * math.sin(2 * math.pi * i / ORBIT_FRAMES),
                   pitch=FRONT - 0.1 * math.cos(2 * math.pi * i / ORBIT_FRAMES))
        start, cpu = time.perf_counter(), time.process_time()
        session.frame(camera, SIZE)
        frame_s.append(time.perf_counter() - start)
        frame_cpu.append(time.process_time() - cpu)
    scores, direct_s = [], []
    for yaw, pitch in VIEWS:
        start = time.perf_counter()
        direct = render(gen, codes, yaw, pitch, opts)
        direct_s.append(time.perf_counter() - start)
        baked = session.view(yaw, pitch, SIZE, opts)
        scores.append((psnr(baked.image[0, -3:], direct.image[0, -3:]),
                       float((baked.mask == direct.mask).float().mean()),
                       float((direct.opacity >= 0.9).float().mean())))
    return {"bake": bake_s, "bake_cpu": bake_cpu, "frame_med": statistics.median(frame_s),
            "frame_min": min(frame_s), "frame_cpu": statistics.median(frame_cpu),
            "direct": statistics.median(direct_s), "psnr": [s[0] for s in scores], "mask": [s[1] for s in scores],
            "opaque": statistics.mean(s[2] for s in scores), "volume": session.volume}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts to measure")
    parser.add_argument("--resolution", type=int, nargs="+", default=[128])
    parser.add_argument("--demo", default=None, help="demo model path (default: checkpoints/demo.fenerf, "
                                                     "else the distillation run's export)")
    parser.add_argument("--official", nargs="*", default=[], help="trained official-size checkpoints to measure too")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="orbit_bench_"))
    rows, verdicts = [], []
    try:
        for name, gen, seeds in models(tmp, args.demo, args.official):
            for resolution, seed, threads in itertools.product(args.resolution, seeds, args.threads):
                torch.set_num_threads(threads)
                r = measure(gen, seed, resolution)
                v = r["volume"]
                row = (f"| {name} | {seed} | {threads} | {resolution}^3 | {v.shape[0]}x{v.shape[1]}x{v.shape[2]}, "
                       f"{v.nbytes / 2**20:.0f} MiB | {r['bake']:.2f} s (CPU {r['bake_cpu']:.1f} s) | "
                       f"{r['frame_med'] * 1000:.1f} ms ({1 / r['frame_med']:.0f} fps; best "
                       f"{r['frame_min'] * 1000:.1f} ms; CPU {r['frame_cpu'] * 1000:.0f} ms) | "
                       f"{r['direct']:.2f} s | {r['direct'] / r['frame_med']:.0f}x | "
                       f"{statistics.mean(r['psnr']):.1f} / {min(r['psnr']):.1f} dB | "
                       f"{100 * statistics.mean(r['mask']):.2f} / {100 * min(r['mask']):.2f}% | "
                       f"{100 * r['opaque']:.0f}% |")
                print(row, flush=True)
                rows.append(row)
                limit = BAKE_TARGET_S.get(name.split(" ")[0])
                if limit is not None:
                    case = f"{name.split(' (')[0]} seed {seed}, {threads} thread(s), {resolution}^3"
                    verdicts.append(f"{case}: " + ", ".join(
                        f"{label} {'met' if ok else 'missed'}" for label, ok in (
                            ("30 fps", r["frame_med"] <= 1 / 30), (f"bake <= {limit:g} s", r["bake"] <= limit),
                            ("PSNR >= 30 dB", min(r["psnr"]) >= 30), ("mask >= 97%", min(r["mask"]) >= 0.97))))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [f"Machine: {os.cpu_count()} cores, torch {torch.__version__}; 1-minute load average "
             f"{os.getloadavg()[0]:.1f} at the end (the machine is shared: compare columns, not runs). "
             f"Frames {SIZE}^2, 24+24 samples, view locked, psi 0.7; frame times over a {ORBIT_FRAMES}-frame orbit; "
             "direct = `render(..., RenderOptions(img_size=128, num_steps=24, lock_view=True))`, median of "
             f"the {len(VIEWS)} views; PSNR and mask agreement of baked vs direct over the same views (mean / worst). "
             "Wall times and, in brackets, process CPU time (all threads; with one thread it is the time "
             "the work takes on an idle core).",
             "",
             "| model | seed | threads | bake | stored box | bake time | frame from bake | direct render | speed-up | "
             "PSNR | mask agreement | opaque pixels |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|", *rows, "",
             "Targets (wall times, worst view): " + "; ".join(verdicts) + "."]
    print("\n".join(lines))
    if args.write:
        from bench.results import write_section
        write_section("Orbit", "\n".join(lines))


if __name__ == "__main__":
    main()
