"""`fenerf parse PHOTO --out mask.png`: an automatic 19-class mask to start painting from."""
from __future__ import annotations

import argparse
import sys
import time


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "parse", help="automatic 19-class CelebAMask-HQ mask of a portrait",
        description="Build a 19-class ID mask (8-bit PNG, ids 0..18) in the photo's own pixel frame from face "
                    "landmarks, person segmentation and geometry, plus a colour preview with the official "
                    "palette. l_* labels are the subject's left (image right in a non-mirrored photo).")
    parser.add_argument("photo", help="portrait (JPEG, PNG, BMP, TIFF, WebP)")
    parser.add_argument("--out", required=True, metavar="MASK.png", help="ID mask to write (PNG)")
    parser.add_argument("--preview", metavar="PATH",
                        help="colour preview to write (default: <MASK>_color.png next to the mask)")
    parser.add_argument("--face", type=int, default=0, metavar="N",
                        help="which face when there are several, 0 = largest (default 0)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from models import intake, labels
    from models.cli import CommandError
    from models.io.images import save_image

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise CommandError(f"{out}: masks are written as PNG (lossless); use a .png name")
    preview = Path(args.preview) if args.preview else out.with_name(f"{out.stem}_color.png")
    start = time.perf_counter()
    try:
        photo = intake.load_photo(args.photo)
        faces = intake.detect_faces(photo)
        face = intake.pick_face(faces, args.face, photo.name)
        mask = intake.parse_face(photo, face)
        save_image(out, mask)
        save_image(preview, labels.colorize(mask))
    except intake.IntakeError as exc:
        raise CommandError(str(exc)) from None
    for note in photo.notes:
        print(f"note: {note}")
    if len(faces) > 1:
        print(f"note: {len(faces)} faces found; parsed face {args.face} (0 = largest; choose with --face)")
    for warning in face.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    present = ", ".join(labels.NAMES[int(i)] for i in np.unique(mask))
    print(f"wrote {out} ({mask.shape[1]}x{mask.shape[0]}: {present}) and {preview} "
          f"({time.perf_counter() - start:.2f} s)")
    return 0
