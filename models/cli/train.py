"""`fenerf train`: train or fine-tune a FENeRF model (see models/train)."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model on a segmentation dataset (resumable; torchrun -m models.train for DDP)",
        description="Train FENeRF with a curriculum. Writes RUN/config.json, metrics.jsonl, status.json, "
                    "previews/ and checkpoints/latest/ (resume with --resume).")
    from models.train.launch import add_arguments
    add_arguments(parser)
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from models.train.launch import run_training
    return run_training(args)
