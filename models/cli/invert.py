"""`fenerf invert`: fit codes to a portrait and its mask, or re-fit the geometry to an edited mask."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from models.cli import CommandError


def register(sub) -> None:
    p = sub.add_parser(
        "invert", help="invert a portrait (image + ID mask) into codes; edit the shape with a new mask",
        description="Reconstruction: --image and --mask. Edit: --edit-from CODES --mask EDITED_MASK "
                    "(geometry only, appearance frozen). Writes codes (official freq_phase_offset_NAME.pth "
                    "and NAME.fcodes), renders, a loss/mIoU CSV and plot, and an orbit video into --out. "
                    "Ctrl-C stops early and keeps the best result so far.")
    p.add_argument("name", help="experiment name (output file names)")
    p.add_argument("--checkpoint", default=None, help="model (default: $FENERF_CHECKPOINT, then the demo model)")
    p.add_argument("--image", type=Path, help="portrait image (not needed with --edit-from)")
    p.add_argument("--mask", type=Path, required=True, help="ID mask PNG (ids 0..18; palette colours converted)")
    p.add_argument("--edit-from", type=Path, help="codes to edit (.fcodes or official .pth)")
    p.add_argument("--original-mask", type=Path,
                   help="with --edit-from: the unedited mask (default: the one recorded in the codes, else the "
                        "render of the loaded codes)")
    p.add_argument("--preset", default=None,
                   help="official (spec 12.4 numbers) | fast (CPU default) | quick (CPU, low resolution)")
    p.add_argument("--iterations", type=int, help="override the preset's iteration count")
    p.add_argument("--start-candidates", type=int,
                   help="sample codes the start search ranks (CPU presets: 512, rendered once per model and "
                        "cached; 0: start from the average codes, as the official script does)")
    p.add_argument("--no-tune", action="store_true",
                   help="codes only, as the official script: skip tuning the generator around the fitted codes")
    p.add_argument("--tune-iterations", type=int, help="override the tuning preset's iteration count")
    p.add_argument("--lambda-seg", type=float)
    p.add_argument("--lambda-img", type=float)
    p.add_argument("--lambda-percept", type=float)
    p.add_argument("--lambda-norm", type=float)
    p.add_argument("--lpips", choices=("vgg", "alex"), help="LPIPS backbone (default: the preset's)")
    p.add_argument("--crop", choices=("auto", "align", "celeba", "none"), default="auto",
                   help="align: detect the face and crop photo and masks to the model's framing (as the app "
                        "does); celeba: the official 320/256 centre crop of a CelebA-aligned portrait; none: "
                        "the input is already in the model's framing; auto (default): celeba for official "
                        "checkpoints (the official pipeline), align for models that store their framing")
    p.add_argument("--face", type=int, default=0, help="with --crop align: which face, 0 = largest")
    p.add_argument("--no-background-mask", action="store_true", help="keep the image background")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--view-size", type=int, default=128, help="side of the reconstruction renders and video")
    p.add_argument("--video-frames", type=int, default=48, help="0: no orbit video")
    p.add_argument("--out", type=Path, help="output folder (default: ./NAME)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.set_defaults(run=run)


def _settings(args: argparse.Namespace):
    from models.invert.presets import DEFAULT_PRESET, preset
    try:
        s = preset(args.preset or DEFAULT_PRESET)
        changes = {k: v for k, v in {
            "iterations": args.iterations, "start_candidates": args.start_candidates,
            "lambda_seg": args.lambda_seg, "lambda_img": args.lambda_img, "lambda_percept": args.lambda_percept,
            "lambda_norm": args.lambda_norm, "lpips_net": args.lpips,
        }.items() if v is not None}
        if args.lambda_norm is not None:
            changes["edit_lambda_norm"] = args.lambda_norm          # the edit pass honours it too
        s = s.replace(seed=args.seed, **changes)
        return s.for_edit() if args.edit_from else s
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _perceptual(settings, device):
    """(LPIPS module or None, settings with the perceptual term off when the backbone is absent)."""
    from models.invert.lpips import LpipsError, load_lpips
    if settings.lambda_percept <= 0:
        return None, settings
    try:
        lp = load_lpips(settings.lpips_net, settings.lpips_version, device)
    except LpipsError as exc:
        raise CommandError(str(exc)) from None
    if lp:
        return lp, settings
    if settings.lambda_img <= 0:
        raise CommandError(f"{lp.message} An inversion driven by LPIPS alone needs it.")
    print(f"warning: {lp.message}")
    return None, settings.replace(lambda_percept=0.0)


def _tune_settings(args: argparse.Namespace):
    """The tuning preset named like the inversion preset, or None with --no-tune or for an edit."""
    from models.invert.presets import DEFAULT_PRESET
    from models.invert.tune_settings import tune_preset
    if args.no_tune or args.edit_from:
        return None
    try:
        s = tune_preset(args.preset or DEFAULT_PRESET).replace(seed=args.seed)
        return s.replace(iterations=args.tune_iterations) if args.tune_iterations is not None else s
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    import time

    from models.cli._common import load_model_from_args
    from models.invert import outputs
    from models.invert.optimize import RenderSetup
    from models.invert.targets import TargetError
    from models.io.atomic import atomic_write_text

    if not args.edit_from and not args.image:
        raise CommandError("give --image (reconstruction) or --edit-from CODES (edit)")
    settings, tune_settings = _settings(args), _tune_settings(args)
    model = load_model_from_args(args)
    out = args.out or Path(args.name)
    setup = RenderSetup.from_defaults(model.render_defaults)
    merge_sides = model.kind == "official"
    perceptual, settings = _perceptual(settings, args.device)
    if args.crop == "auto":
        args.crop = "celeba" if model.framing is None else "align"
    seconds: dict[str, float] = {}
    began = time.perf_counter()
    try:
        if args.edit_from:
            inversion, start, masks, tuned = _edit_run(args, model.generator, settings, setup, merge_sides)
            framing_info, target = {}, None
        else:
            inversion, framing_info, target = _reconstruction_run(args, model, settings, setup, merge_sides,
                                                                  perceptual)
            start = masks = tuned = None
    except TargetError as exc:
        raise CommandError(str(exc)) from None
    seconds["start_search"] = time.perf_counter() - began
    gen = model.generator if tuned is None else tuned.applied(model.generator)
    print(f"{args.name}: {model.name} ({model.kind}), {'edit' if args.edit_from else 'reconstruction'}, "
          f"{settings.iterations} iterations max, {settings.size}px target, "
          f"{settings.num_steps} samples/ray, moving: "
          f"{'+'.join(n for n, m in (('geometry', settings.moves_geometry), ('appearance', settings.moves_appearance)) if m)}"
          f"{'' if tune_settings is None else f', then tuning the generator ({tune_settings.iterations} iterations)'}")
    began = time.perf_counter()
    stopped = _drive(inversion)
    seconds["code_fit"] = time.perf_counter() - began
    best = inversion.best
    best.info.update({"name": args.name, "model": str(model.path), "stopped": stopped,
                      "mask": str(args.mask.resolve()), "settings": settings.to_dict(), **framing_info})
    if tune_settings is not None and stopped != "interrupted":
        began = time.perf_counter()
        tuned = _tune(model, target, best, tune_settings, perceptual, merge_sides, setup)
        seconds["tuning"] = time.perf_counter() - began
        gen = tuned.applied(model.generator)
    if masks is not None:
        best.info["original_mask"] = str(masks[2]) if masks[2] is not None else None
    out.mkdir(parents=True, exist_ok=True)
    if tuned is not None:
        from models.invert.tuned_weights import SUFFIX as TUNED_SUFFIX, save_tuned
        save_tuned(out / f"{args.name}{TUNED_SUFFIX}", tuned)
        best.info["tuned"] = f"{args.name}{TUNED_SUFFIX}"
    official, ours = outputs.write_codes(out, args.name, best)
    csv_path, plot = outputs.write_history(out, inversion.history)
    opts = _view_options(model, args.view_size)
    codes = best.effective.to(gen.device)
    outputs.write_views(out, gen, codes, opts)
    if args.video_frames > 0:
        outputs.write_orbit(out / f"{args.name}_orbit.mp4", gen, codes, opts, args.video_frames)
    if masks is not None:
        from models.invert.edit import report_for
        report = report_for(inversion, start, masks[0], masks[1])
        atomic_write_text(out / "edit_report.txt", "\n".join(report.lines()) + "\n")
    summary = _summary(model, gen, best, inversion, target, settings, merge_sides, setup, masks, start, seconds)
    from models.invert.summary import write_summary
    write_summary(out, summary)
    for line in _summary_lines(summary):
        print(line)
    print(f"wrote {official}, {ours.name}{', ' + best.info['tuned'] if tuned is not None else ''}, "
          f"{csv_path.name}, {plot.name}, summary.json, renders and video in {out}")
    return 0


def _tune(model, target, pivot, settings, perceptual, merge_sides, setup):
    """Tune the generator around the fitted codes with a tqdm bar; Ctrl-C keeps the best so far."""
    from tqdm import tqdm

    from models.invert.tune import Tuning
    tuning = Tuning(model.generator, target.at(settings.size), pivot.effective, settings,
                    perceptual if settings.lambda_percept > 0 else None, merge_sides, setup)
    with tqdm(total=settings.iterations, unit="it", desc="tuning the generator") as bar:
        try:
            for record in tuning:
                bar.update(record.iteration - bar.n)
                if record.miou is not None:
                    bar.set_postfix(psnr=f"{record.losses['psnr']:.2f}", miou=f"{record.miou:.3f}")
        except KeyboardInterrupt:
            print("\ninterrupted: keeping the best tuning so far")
    return tuning.best


def _summary(model, gen, best, inversion, target, settings, merge_sides, setup, masks, start, seconds) -> dict:
    """summary.json: the frontal evaluation view's fidelity (and, for an edit, its locality)."""
    from models.invert.summary import edit_locality, fidelity, frontal_render
    opts = setup.options(settings.eval_size, settings.eval_steps)
    after = frontal_render(gen, best.effective, opts)
    summary: dict = {"name": best.info.get("name"), "model": str(model.path), "tuned": "tuned" in best.info,
                     "eval_size": settings.eval_size, "seconds": {k: round(v, 2) for k, v in seconds.items()}}
    summary["seconds"]["total"] = round(sum(seconds.values()), 2)
    if target is not None:
        rgb, ids = target.image_at(settings.eval_size), target.ids_at(settings.eval_size)
        summary["result"] = fidelity(*after, rgb, ids, merge_sides)
        if summary["tuned"]:
            summary["codes_only"] = fidelity(*frontal_render(model.generator, best.effective, opts), rgb, ids,
                                             merge_sides)
    else:
        original, edited, _ = masks
        before = frontal_render(gen, start.effective, opts)
        summary["result"] = fidelity(*after, before[0], inversion.target.ids_at(settings.eval_size), merge_sides)
        summary["result"].pop("psnr"), summary["result"].pop("ssim")
        summary["edit"] = edit_locality(before, after, original, edited)
    return summary


def _summary_lines(summary: dict) -> list[str]:
    r = summary["result"]
    lines = []
    if "codes_only" in summary:
        c = summary["codes_only"]
        lines.append(f"codes only: foreground PSNR {c['psnr']:.2f} dB, SSIM {c['ssim']:.3f}, mIoU {c['miou']:.3f}")
    if "psnr" in r:
        lines.append(f"{'tuned' if summary['tuned'] else 'result'}: foreground PSNR {r['psnr']:.2f} dB, "
                     f"SSIM {r['ssim']:.3f}, mIoU {r['miou']:.3f} (19-class {r['miou19']:.3f})")
    if "edit" in summary:
        e = summary["edit"]
        f = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
        psnr = e["outside_psnr_vs_before"]
        lines.append(f"edited region ({e['region_fraction']:.1%} of the frame): IoU to the edited mask "
                     f"{f(e['inside_iou_before'])} -> {f(e['inside_iou_after'])}; outside "
                     f"{f(e['outside_iou_before'])} -> {f(e['outside_iou_after'])}; PSNR outside vs before "
                     f"{'n/a' if psnr is None else f'{psnr:.2f} dB'}")
    lines.append("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in summary["seconds"].items()))
    return lines


def _reconstruction_run(args, model, settings, setup, merge_sides, perceptual):
    """The reconstruction inversion and how its target was cropped (kept in the codes for an edit)."""
    from models.invert.optimize import Inversion
    from models.invert.targets import load_target
    framing_info = {"crop": args.crop}
    if args.crop == "align":
        from models.invert.aligned import aligned_target
        target, transform = aligned_target(args.image, args.mask, settings.size, model.framing,
                                           not args.no_background_mask, args.face)
        framing_info["transform"] = transform.to_dict()
    else:
        target = load_target(args.image, args.mask, settings.size, args.crop, not args.no_background_mask)
    for note in target.notes:
        print(f"note: {note}")
    with _StartBankBar() as bar:
        inversion = Inversion(model.generator, target, settings, perceptual=perceptual, merge_sides=merge_sides,
                              setup=setup, start_progress=bar.update)
    return inversion, framing_info, target


class _StartBankBar:
    """A tqdm bar for the start search's first rendering of a model's candidate bank (cached after)."""

    def __init__(self):
        self._bar = None

    def update(self, done: int, total: int) -> None:
        from tqdm import tqdm
        if self._bar is None:
            self._bar = tqdm(total=total, unit="code", desc="start codes (rendered once per model)")
        self._bar.update(done - self._bar.n)

    def __enter__(self) -> "_StartBankBar":
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()


def _edit_run(args, gen, settings, setup, merge_sides):
    """The geometry-only edit pass from saved codes (with their tuned weights, when they have some)."""
    from models.invert.edit import edit_inversion
    from models.invert.session_codes import load_codes
    from models.invert.targets import crop_ids, load_ids
    from models.invert.tuned_weights import tuned_for_codes
    from models.io.errors import CheckpointError
    try:
        start = load_codes(args.edit_from)
        start.check_fits(gen.cfg.geo_code_dim, gen.cfg.app_code_dim, str(args.edit_from))
        tuned = tuned_for_codes(args.edit_from, start.info, gen)
    except (CheckpointError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    edit_gen = gen if tuned is None else tuned.applied(gen)
    original_path = args.original_mask or (Path(start.info["mask"]) if start.info.get("mask") else None)
    if original_path is not None and not original_path.is_file():
        if args.original_mask:
            raise CommandError(f"{original_path}: no such mask file")
        print(f"note: the recorded original mask {original_path} is gone; using the render of the codes")
        original_path = None
    crop = start.info.get("crop", args.crop)
    if crop == "align":
        if "transform" not in start.info:
            raise CommandError(f"{args.edit_from}: no crop transform recorded; give --crop celeba or none")
        from models.intake import AlignTransform
        from models.invert.aligned import aligned_ids
        transform = AlignTransform.from_dict(start.info["transform"])
        read = lambda path: aligned_ids(path, transform, settings.size)  # noqa: E731
    else:
        read = lambda path: crop_ids(load_ids(path), settings.size, crop)  # noqa: E731
    edited = read(args.mask)
    if original_path is None:
        from models.invert.summary import frontal_render
        original = frontal_render(edit_gen, start.effective, setup.options(settings.size, settings.eval_steps))[1]
        print("note: no original mask: the edit is measured against the render of the loaded codes")
    else:
        original = read(original_path)
    if (edited == original).all():
        print("note: the edited mask equals the original one; the edit pass will only refine")
    inversion = edit_inversion(edit_gen, start, edited, settings, original, merge_sides, setup)
    return inversion, start, (original, edited, None if original_path is None else original_path.resolve()), tuned


def _drive(inversion) -> str:
    """Run the loop, printing every evaluation; Ctrl-C keeps the best so far."""
    stopped = "done"
    try:
        for record in inversion:
            if record.miou is not None:
                loss = record.losses.get("total")
                print(f"  it {record.iteration:4d}  {record.elapsed:7.1f}s  loss "
                      f"{'-' if loss is None else f'{loss:.4f}'}  mIoU {record.miou:.3f} "
                      f"(19-class {record.miou19:.3f}){'  *' if record.best else ''}", flush=True)
            if record.stopped:
                stopped = record.stopped
    except KeyboardInterrupt:
        stopped = "interrupted"
        print("\ninterrupted: keeping the best result so far")
    return stopped


def _view_options(model, size: int):
    from models.render.options import RenderOptions
    d = model.render_defaults
    return RenderOptions(img_size=size, num_steps=d.get("num_steps", 24), fov=d.get("fov", 12.0),
                         ray_start=d.get("ray_start", 0.88), ray_end=d.get("ray_end", 1.12))
