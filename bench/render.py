"""Render speed: our deterministic renderer vs an official-style path measured in the same run.

Model: the full-size latent-grid generator (grid 32x96^3, official init, random weights, in memory).
Prints per-frame times at 64^2 and 128^2 with 24+24 samples, the ratio to the official-style path
(the same math as the official renderer: every sample through the whole network, 2.4M-point chunks,
no caching or skipping) and to the official code's own times (fixture timing_baseline.json), the
FLOP bound from this CPU's measured matmul throughput, and the fidelity of every speed-up against our
own unaccelerated deterministic render (PSNR, mask agreement) on this model, the fixture models and
the demo model. Usage: python bench/render.py [--write] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from models.field.config import GeneratorConfig  # noqa: E402
from models.field.generator import Generator  # noqa: E402
from models.field.latents import codes_for_seeds  # noqa: E402
from models.render.options import RenderOptions  # noqa: E402
from models.render.renderer import prepare, render  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
VIEWS = ((math.pi / 2, math.pi / 2), (math.pi / 2 + 0.3, math.pi / 2 - 0.15))


def timed(fn, repeats: int = 1) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def matmul_gflops(dtype=torch.float32, size: int = 256, rows: int = 8192) -> float:
    a, b = torch.randn(rows, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    for _ in range(3):
        a @ b
    seconds = timed(lambda: [a @ b for _ in range(20)], 3) / 20
    return 2 * rows * size * size / seconds / 1e9


def frame_flops(cfg: GeneratorConfig, pixels: int, samples: int) -> float:
    """FLOPs of the official renderer's matmuls for one frame (every sample, full network)."""
    h = cfg.hidden_dim
    trunk = 3 * h + (cfg.geo_layers - 1) * h * h
    heads = h + (cfg.label_layers - 1) * h * h + h * cfg.num_labels
    texture = cfg.texture_input_dim * h + (cfg.app_layers - 1) * h * h + 3 * h
    return 2.0 * pixels * samples * (trunk + heads + texture)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return 99.0 if mse == 0 else 10 * math.log10(4 / mse)


def fidelity(gen: Generator, seeds: list[int], size: int, steps: int) -> tuple[float, float]:
    """Worst PSNR (RGB) and mask agreement of the accelerated path vs the reference path."""
    worst_psnr, worst_mask = 99.0, 1.0
    opts = RenderOptions(img_size=size, num_steps=steps)
    for seed in seeds:
        codes = codes_for_seeds(gen, [seed], 0.7)
        prepared = prepare(gen, codes)
        for yaw, pitch in VIEWS:
            ref = render(gen, codes, yaw, pitch, opts.replace(accelerate=False))
            for fast in (render(gen, codes, yaw, pitch, opts), render(gen, codes, yaw, pitch, opts, prepared=prepared)):
                worst_psnr = min(worst_psnr, psnr(fast.image[0, -3:], ref.image[0, -3:]))
                worst_mask = min(worst_mask, float((fast.mask == ref.mask).float().mean()))
    return worst_psnr, worst_mask


def fidelity_models() -> list[tuple[str, Generator]]:
    from models.io.model import DEMO_MODEL, load_model
    found = []
    if DEMO_MODEL.exists():
        found.append(("demo model", load_model(DEMO_MODEL).generator))
    fixtures = SHARED / "fixtures"
    if fixtures.is_dir():
        import lzma
        import tempfile
        tmp = Path(tempfile.mkdtemp())
        for tag, prefix in (("fixture A (grid)", "gridA_200000_"), ("fixture B (no grid)", "nogridB_200000_")):
            for part in ("generator", "ema"):
                (tmp / f"{prefix}{part}.pth").write_bytes(lzma.open(fixtures / f"{prefix}{part}.pth.xz").read())
            found.append((tag, load_model(tmp / f"{prefix}generator.pth").generator))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    gen = Generator(GeneratorConfig.official(grid=True))
    gen.siren.init_official()
    gen.requires_grad_(False).eval()
    codes = codes_for_seeds(gen, [0], 0.7)
    official = json.loads((SHARED / "fixtures" / "timing_baseline.json").read_text()) if SHARED.is_dir() else {}
    gflops = matmul_gflops()
    rows = []
    for size in args.sizes:
        opts = RenderOptions(img_size=size, num_steps=24)
        baseline = timed(lambda: render(gen, codes, opts=opts.replace(accelerate=False, chunk_points=2_400_000)))
        ours = timed(lambda: render(gen, codes, opts=opts), 3)
        start = time.perf_counter()
        prepared = prepare(gen, codes)
        prep = time.perf_counter() - start
        cached = timed(lambda: render(gen, codes, opts=opts, prepared=prepared), 3)
        bound = frame_flops(gen.cfg, size * size, 48) / (gflops * 1e9)
        off = official.get(f"staged_render_{size}_s")
        rows.append((size, off, baseline, ours, cached, prep, bound))
        print(f"{size}^2: official code {off}s | official-style path {baseline:.2f}s | ours {ours:.2f}s "
              f"({baseline / ours:.1f}x) | ours, codes prepared {cached:.2f}s ({baseline / cached:.1f}x; prepare "
              f"{prep:.2f}s once per code) | FLOP bound of the full official work {bound:.2f}s", flush=True)
    fid = [("full-size random model", *fidelity(gen, [0], 64, 24))]
    for name, model in fidelity_models():
        fid.append((name, *fidelity(model, [0, 1, 2], 64, 24)))
    for name, p, m in fid:
        print(f"fidelity {name}: worst PSNR {p:.1f} dB, worst mask agreement {m:.4f}")
    lines = [f"Machine: {torch.get_num_threads()} threads, torch {torch.__version__}; measured fp32 matmul "
             f"(8192x256 @ 256x256) {gflops:.0f} GFLOP/s. Model: full-size grid generator, official init "
             "(random weights), 24+24 samples, psi 0.7, frontal.", "",
             "| size | official code (fixture) | official-style path, same run | ours, one frame | speed-up | "
             "ours, codes prepared | speed-up | vs official code | FLOP bound (full official work) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for size, off, base, ours, cached, prep, bound in rows:
        vs_off = f"{off / cached:.1f}x" if off else "n/a"
        lines.append(f"| {size}^2 | {off and f'{off:.2f} s'} | {base:.2f} s | {ours:.2f} s | {base / ours:.1f}x | "
                     f"{cached:.2f} s (+{prep:.2f} s once) | {base / cached:.1f}x | {vs_off} | {bound:.2f} s |")
    lines += ["", "Fidelity of the accelerated path vs our unaccelerated deterministic render (64^2, seeds x 2 views):", "",
              "| model | worst PSNR (RGB) | worst mask agreement |", "|---|---|---|"]
    lines += [f"| {n} | {p:.1f} dB | {m:.4f} |" for n, p, m in fid]
    print("\n".join(lines))
    if args.write:
        from bench.results import write_section
        write_section("Render", "\n".join(lines))


if __name__ == "__main__":
    main()
