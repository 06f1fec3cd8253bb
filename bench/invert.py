"""Inversion speed on the demo model, every figure measured in the same run.

1. Seconds per iteration: the official-style full-image iteration (spec 12.4: every pixel of the
   R x R frontal view, 24 samples, no fine pass, the differentiable training forward
   `render_training`, mask + pixel MSE, backward into the codes) against our CPU presets'
   iterations (jittered ray grid, fewer samples, samples without density skipped), at R = 64 and
   R = 128, median of interleaved runs.
2. Seconds to reach mIoU 0.9 (present classes) when inverting an image + mask rendered by the
   model from a known code: the official-style loop at 64 px (from the average codes) and our
   presets (from their start search; each with `stop_at_miou=0.9`); then every preset as shipped
   on sixteen known codes. The presets' start bank is rendered first and timed on its own (a
   fresh cache folder): that is paid once per model, and the runs after it read it from memory.
3. Geometry re-edit: from that known code, re-invert the geometry against the mask of a shape
   edit (the geometry moved halfway to another seed's), seconds until mIoU 0.9 to the edited mask,
   and the IoU inside/outside the edited region (target: <= 60 s on this CPU).
4. The README walkthrough on the shared portrait (reconstruction, then the edit).

    python bench/invert.py [--model PATH] [--threads 1] [--write]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from models.field.latents import codes_for_seeds  # noqa: E402
from models.invert.edit import edit_inversion, report_for  # noqa: E402
from models.invert.optimize import Inversion, RenderSetup  # noqa: E402
from models.invert.presets import PRESETS  # noqa: E402
from models.invert.rays import RayRenderer, grid_pixels  # noqa: E402
from models.invert.session_codes import PortraitCodes  # noqa: E402
from models.invert.targets import make_target  # noqa: E402
from models.io.model import DEMO_MODEL, load_model  # noqa: E402
from models.render.options import RenderOptions  # noqa: E402
from models.render.renderer import render, render_training  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
CPU_PRESETS = ("fast", "quick")
SEED, EDIT_SEED, PSI = 3, 11, 0.7
SEEDS = range(16)


def official_iteration(gen, codes, target, size: int) -> float:
    """One official-style iteration (full image, 24 samples, no fine pass); seconds."""
    offsets = [torch.zeros_like(t, requires_grad=True) for t in codes.tensors()]
    opts = RenderOptions(img_size=size, num_steps=24, hierarchical=False)
    start = time.perf_counter()
    out, _ = render_training(gen, codes + type(codes)(*offsets), opts, h_stddev=0, v_stddev=0, sample_dist=None)
    loss = torch.mean((out[0, :18] - target.semantic) ** 2) + 0.2 * torch.mean((out[0, 18:] - target.image) ** 2)
    loss.backward()
    return time.perf_counter() - start


def preset_iteration(gen, codes, target, settings, side: int, rng) -> float:
    """One iteration of our loop's forward/backward at a given grid side; seconds."""
    renderer = RayRenderer(gen, target.size, settings.num_steps, jitter=True, skip_empty=settings.skip_empty)
    offsets = [torch.zeros_like(t, requires_grad=True) for t in codes.tensors()]
    start = time.perf_counter()
    pixels = grid_pixels(target.size, side, rng)
    out, _ = renderer.render(codes + type(codes)(*offsets), pixels, rng)
    sem, img = target.semantic.reshape(18, -1).T[pixels], target.image.reshape(3, -1).T[pixels]
    loss = torch.mean((out[:, :18] - sem) ** 2) + 0.2 * torch.mean((out[:, 18:] - img) ** 2)
    loss.backward()
    return time.perf_counter() - start


def self_target(gen, codes, size: int):
    r = render(gen, codes, opts=RenderOptions(img_size=size, num_steps=24))
    return make_target(r.rgb_uint8(), r.mask_ids(), size, crop="none"), r.mask_ids()


def start_bank_line(gen) -> str:
    """Render the CPU presets' start bank once in a fresh cache folder; seconds and size."""
    import tempfile

    from models.invert import start_bank
    s = PRESETS["quick"]
    with tempfile.TemporaryDirectory() as cache:
        previous = os.environ.get("FENERF_CACHE")
        os.environ["FENERF_CACHE"] = cache
        try:
            begin = time.perf_counter()
            start_bank.start_bank(gen, s.start_candidates, RenderSetup().options(s.eval_size, s.eval_steps))
            seconds = time.perf_counter() - begin
            stored = sum(f.stat().st_size for f in Path(cache).rglob("*.npz"))
        finally:
            if previous is None:
                os.environ.pop("FENERF_CACHE")
            else:
                os.environ["FENERF_CACHE"] = previous
    return (f"Start bank of the CPU presets: {s.start_candidates} sample codes, frontal masks at "
            f"{start_bank.BANK_SIZE} px with {s.eval_steps} samples, rendered in {seconds:.1f} s (once per model; "
            f"{stored / 1024:.0f} KiB in the cache folder, then read in milliseconds). It is not counted below.")


def per_iteration_table(gen, codes, repeats: int) -> list[str]:
    rows = ["| target | official-style full image (s/it) | " + " | ".join(
        f"`{p}` (rays, s/it, x faster)" for p in CPU_PRESETS) + " |", "|---|---|" + "---|" * len(CPU_PRESETS)]
    rng = torch.Generator().manual_seed(0)
    for size in (64, 128):
        target, _ = self_target(gen, codes, size)
        official_iteration(gen, codes, target, size)                       # warm-up
        runs = {"official": []} | {p: [] for p in CPU_PRESETS}
        for _ in range(repeats):                                           # interleaved
            runs["official"].append(official_iteration(gen, codes, target, size))
            for p in CPU_PRESETS:
                s = PRESETS[p].replace(size=size, grid=tuple((a, b * size // PRESETS[p].size)
                                                             for a, b in PRESETS[p].grid))
                runs[p].append(preset_iteration(gen, codes, target, s, s.grid[-1][1], rng))
        base = statistics.median(runs["official"])
        cells = []
        for p in CPU_PRESETS:
            s = PRESETS[p]
            side = s.grid[-1][1] * size // s.size
            t = statistics.median(runs[p])
            cells.append(f"{side}x{side}, {s.num_steps} samples: {t:.3f} s, {base / t:.1f}x")
        rows.append(f"| {size}x{size} | {base:.3f} | " + " | ".join(cells) + " |")
    return rows


def time_to_miou(gen, target, settings, start=None, threshold: float = 0.9) -> tuple[float | None, float, int]:
    """(seconds until mIoU >= threshold or None, best mIoU, iterations run)."""
    inv = Inversion(gen, target, settings.replace(stop_at_miou=threshold, patience=None), start=start)
    reached, last = None, 0
    for rec in inv:
        last = rec.iteration
        if rec.miou is not None and rec.miou >= threshold and reached is None:
            reached = rec.elapsed
    return reached, inv.best.info.get("miou", float("nan")), last


def convergence_table(gen, codes, settings_by_name: dict) -> list[str]:
    rows = ["| run | target px | seconds to mIoU 0.9 | best mIoU | iterations |", "|---|---|---|---|---|"]
    for name, s in settings_by_name.items():
        target, _ = self_target(gen, codes, s.size)
        reached, best, its = time_to_miou(gen, target, s)
        rows.append(f"| {name} | {s.size} | {'not reached' if reached is None else f'{reached:.1f}'} | "
                    f"{best:.3f} | {its} |")
    return rows


def edit_rows(gen, codes) -> list[str]:
    other = codes_for_seeds(gen, [EDIT_SEED], PSI)
    rows = ["| edit preset | geometry moved | target px | edited pixels | start mIoU | seconds to mIoU 0.9 | "
            "seconds to the best state | seconds in all (iterations) | best mIoU | inside IoU before -> after | "
            "outside IoU before -> after |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for amount in (0.5, 1.0):
        edited_codes = codes.lerp(other, amount, geometry=True, appearance=False)
        for name in CPU_PRESETS:
            s = PRESETS[name]
            _, original = self_target(gen, codes, s.size)
            _, edited = self_target(gen, edited_codes, s.size)
            start = PortraitCodes.start(codes)
            inv = edit_inversion(gen, start, edited, s, original)
            reached = None
            for rec in inv:
                if rec.miou is not None and rec.miou >= 0.9 and reached is None:
                    reached = rec.elapsed
            rep = report_for(inv, start, original, edited)
            last = inv.history[-1]
            best_at = next(r.elapsed for r in inv.history if r.iteration == inv.best.info["iteration"])
            rows.append(f"| {name} | {amount:.0%} | {s.size} | {rep.region_fraction:.1%} | {inv.history[0].miou:.3f} | "
                        f"{'not reached' if reached is None else f'{reached:.1f}'} | {best_at:.1f} | {last.elapsed:.1f} "
                        f"({last.iteration}) | {inv.best.info['miou']:.3f} | {rep.inside_before:.3f} -> "
                        f"{rep.inside_after:.3f} | {rep.outside_before:.3f} -> {rep.outside_after:.3f} |")
    return rows


def seed_rows(gen, seeds: range) -> list[str]:
    """Self-inversion of several known codes with each CPU preset: where the official loop would start
    (average codes), where the start search lands, the best mIoU and the seconds it took."""
    rows = ["| preset | seed | average-codes mIoU | chosen start mIoU | best mIoU | seconds (iterations) |",
            "|---|---|---|---|---|---|"]
    for name in CPU_PRESETS:
        s = PRESETS[name].replace(lambda_percept=0.0)
        best = []
        for seed in seeds:
            target, _ = self_target(gen, codes_for_seeds(gen, [seed], PSI), s.size)
            begin = time.perf_counter()
            inv = Inversion(gen, target, s)
            inv.run()
            best.append(inv.best.info["miou"])
            rows.append(f"| {name} | {seed} | {inv.evaluate(gen.average_codes()).miou:.3f} | "
                        f"{inv.history[0].miou:.3f} | {best[-1]:.3f} | {time.perf_counter() - begin:.1f} "
                        f"({inv.history[-1].iteration}) |")
        rows.append(f"| **{name}** | **all** | | | **mean {statistics.mean(best):.3f}; >= 0.9: "
                    f"{sum(b >= 0.9 for b in best)} of {len(best)}** | |")
    return rows


def walkthrough_rows(gen, model) -> list[str]:
    from models.invert.aligned import aligned_ids, aligned_target
    portrait = SHARED / "data" / "portrait"
    setup = RenderSetup.from_defaults(model.render_defaults)
    rows = ["| walkthrough step (preset `fast`) | seconds | iterations | mIoU (present / 19-class) | notes |",
            "|---|---|---|---|---|"]
    s = PRESETS["fast"]
    target, transform = aligned_target(portrait / "img.jpg", portrait / "mask.png", s.size, model.framing)
    start = time.perf_counter()
    inv = Inversion(gen, target, s, setup=setup)
    inv.run()
    rec = inv.best
    rows.append(f"| reconstruction | {time.perf_counter() - start:.1f} | {inv.history[-1].iteration} | "
                f"{rec.info['miou']:.3f} / {rec.info['miou19']:.3f} | perceptual term off (no backbone) |")
    original, edited = (aligned_ids(portrait / name, transform, s.size) for name in ("mask.png", "mask_edit.png"))
    start = time.perf_counter()
    edit = edit_inversion(gen, rec, edited, s, original, setup=setup)
    edit.run()
    rep = report_for(edit, rec, original, edited)
    rows.append(f"| edit (mask_edit.png) | {time.perf_counter() - start:.1f} | {edit.history[-1].iteration} | "
                f"{edit.best.info['miou']:.3f} / {edit.best.info['miou19']:.3f} | inside IoU "
                f"{rep.inside_before:.3f} -> {rep.inside_after:.3f}, outside {rep.outside_before:.3f} -> "
                f"{rep.outside_after:.3f} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=DEMO_MODEL)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--write", action="store_true", help="replace the Inversion section of bench/RESULTS.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    gen = model.generator
    codes = codes_for_seeds(gen, [SEED], PSI)
    official64 = PRESETS["official"].replace(size=64, grid=((0, 64),), eval_size=64, eval_steps=24,
                                             eval_every=10, lambda_percept=0.0, iterations=300)
    lines = [f"Model `{args.model.name}` ({model.kind}, hidden {gen.cfg.hidden_dim}); CPU, {args.threads} "
             f"thread(s), torch {torch.__version__}. Target: the model's own frontal render of seed {SEED} "
             f"(psi {PSI}), rendered as the presets evaluate (24+24 samples). LPIPS off in every timed run "
             "(no backbone here).", ""]
    lines += [start_bank_line(gen), ""]
    lines += per_iteration_table(gen, codes, args.repeats)
    lines += [""] + convergence_table(gen, codes, {"official-style loop, 64 px": official64} |
                                      {f"`{p}`": PRESETS[p].replace(lambda_percept=0.0) for p in CPU_PRESETS})
    lines += ["", f"Geometry re-edit (preset's edit pass: geometry only, offset-norm weight 0.1): start at seed "
                  f"{SEED}'s code; edited mask = the render of seed {SEED} with its geometry code moved 50% / 100% "
                  f"of the way to seed {EDIT_SEED}'s (appearance unchanged); each run stops on its plateau.", ""]
    lines += edit_rows(gen, codes)
    lines += ["", f"Self-inversion of seeds {SEEDS.start}-{SEEDS.stop - 1} (psi {PSI}), each preset as shipped:", ""]
    lines += seed_rows(gen, SEEDS)
    lines += ["", "README walkthrough on ../shared/data/portrait (`fenerf invert`'s default `--crop align`: "
                  "photo and masks cropped to the model's framing by the face alignment):", ""]
    lines += walkthrough_rows(gen, model)
    text = "\n".join(lines)
    print(text)
    if args.write:
        from bench.results import write_section
        write_section("Inversion", text)


if __name__ == "__main__":
    main()
