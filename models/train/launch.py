"""Command-line training: arguments, process-group setup, progress bar, signals (used by
`fenerf train` and by `torchrun -m models.train`)."""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from models.cli import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", type=Path, help="dataset folder (celebahq_mask_img/, celebahq_mask_mask/); "
                                                     "with --resume defaults to the run's")
    parser.add_argument("--curriculum", help="curriculum name (see --curricula); with --resume the run's is used")
    parser.add_argument("--curricula", type=Path, default=None, help="TOML file of curricula (default: built-in)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (config, metrics, previews, checkpoints)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--init", type=Path, default=None, help="start from this model's weights (fine-tuning)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop at this step (default: the curriculum's end)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (cuda when available)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    group = parser.add_argument_group("run settings (a resumed run keeps its own unless given)")
    group.add_argument("--seed", type=int, help="random seed (default 0)")
    group.add_argument("--workers", type=int, help="data-loading worker processes (default 0)")
    group.add_argument("--checkpoint-every", type=int, help="save checkpoints/latest every N steps (default 500)")
    group.add_argument("--keep-every", type=int, help="also keep checkpoints/step_<n> every N steps (default 0: never)")
    group.add_argument("--preview-every", type=int, help="write a preview grid every N steps (default 500)")
    group.add_argument("--log-every", type=int, help="append a metrics record every N steps (default 10)")
    group.add_argument("--preview-size", type=int, help="preview image side in pixels (default 64)")
    group.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


SETTING_FLAGS = {"seed": ("seed", 0), "workers": ("num_workers", 0), "checkpoint_every": ("checkpoint_every", 1),
                 "keep_every": ("keep_every", 0), "preview_every": ("preview_every", 1),
                 "log_every": ("log_every", 1), "preview_size": ("preview_size", 4)}


def _settings(args: argparse.Namespace, base: dict | None = None):
    """The run settings: `base` (a resumed run's) overridden by the flags given, on this device."""
    from models.train.trainer import TrainSettings
    values = dict(base or {})
    for flag, (name, minimum) in SETTING_FLAGS.items():
        value = getattr(args, flag)
        if value is not None and value < minimum:
            raise CommandError(f"--{flag.replace('_', '-')} must be at least {minimum}")
        if value is not None:
            values[name] = value
    values.update(device=args.device, amp=not args.no_amp)
    return TrainSettings.from_dict(values)


def _build_trainer(args: argparse.Namespace, info):
    from models.train.curriculum import CurriculumError, get_curriculum
    from models.train.data import dataset_framing, segmentation_dataset_factory
    from models.train.runfolder import RunFolder
    from models.train.trainer import Trainer
    if args.resume:
        config = RunFolder(args.out).read_config()
        cur = config["curriculum"]
        if args.curriculum and args.curriculum != cur["name"]:
            raise CommandError(f"{args.out} was trained with curriculum {cur['name']!r}, not {args.curriculum!r}")
        dataset = args.dataset or Path(config["extra"]["dataset"])
        factory = segmentation_dataset_factory(dataset, cur["flip"], cur["swap_lr_on_flip"])
        return Trainer.resume(args.out, factory, _settings(args, config["settings"]), info, args.max_steps)
    if args.dataset is None or args.curriculum is None:
        raise CommandError("--dataset and --curriculum are required for a new run (or use --resume)")
    if not args.dataset.is_dir():
        raise CommandError(f"{args.dataset}: dataset folder not found")
    try:
        curriculum = get_curriculum(args.curriculum, args.curricula)
    except CurriculumError as exc:
        raise CommandError(str(exc)) from None
    factory = segmentation_dataset_factory(args.dataset, curriculum.flip, curriculum.swap_lr_on_flip)
    extra = {"dataset": str(args.dataset.resolve()), "command": sys.argv, "framing": dataset_framing(args.dataset)}
    return Trainer.start(curriculum, factory, args.out, _settings(args), info, args.init, args.max_steps, extra)


def run_training(args: argparse.Namespace) -> int:
    """Run (or resume) training as the arguments say; returns the exit code."""
    import torch

    from models.io.errors import CheckpointError
    from models.train.distributed import init_from_env, shutdown
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise CommandError(f"--device {args.device}: CUDA is not available (use --device cpu)")
    if args.threads:
        torch.set_num_threads(args.threads)
    info = init_from_env(torch.device(args.device).type)
    try:
        try:
            trainer = _build_trainer(args, info)
        except (CheckpointError, FileExistsError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from None
        except KeyError as exc:
            raise CommandError(f"{args.out / 'config.json'}: missing entry {exc}") from None
        stop = lambda *_: trainer.request_stop()  # noqa: E731  (finish the step, save, exit cleanly)
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        bar = None
        if info.is_main and not args.quiet:
            from tqdm import tqdm
            bar = tqdm(total=trainer.max_steps, initial=trainer.step_count, unit="step", dynamic_ncols=True)
        try:
            state = trainer.run(args.max_steps, _progress(bar))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if bar is not None:
                bar.close()
        if info.is_main:
            print(f"training {state} at step {trainer.step_count}; checkpoint: {trainer.folder.latest}")
        return 0
    finally:
        shutdown(info)


def _progress(bar):
    if bar is None:
        return None

    def update(metrics: dict) -> None:
        bar.update(1)
        bar.set_postfix(size=metrics["img_size"], d=f"{metrics['d_img']:.3f}/{metrics['d_seg']:.3f}",
                        g=f"{metrics['g_img']:.3f}/{metrics['g_seg']:.3f}", ips=f"{metrics['images_per_s']:.1f}",
                        refresh=False)
    return update
