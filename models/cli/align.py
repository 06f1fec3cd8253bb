"""`fenerf align PHOTO --out DIR`: crop a face the way a model was trained to see it."""
from __future__ import annotations

import argparse
import sys
import time


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "align", help="align a portrait to a model's framing (512x512 crop + transform)",
        description="Detect the face (mediapipe FaceMesh, OpenCV Haar as a fallback), correct its roll and "
                    "crop it to the framing the model was trained on. Writes DIR/crop.png and "
                    "DIR/transform.json (photo->crop similarity, to paste results back).")
    parser.add_argument("photo", help="portrait (JPEG, PNG, BMP, TIFF, WebP)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="CHECKPOINT",
                        help="model whose framing to use (.fenerf: the framing it stores; "
                             "official .pth: CelebA)")
    source.add_argument("--framing", choices=("celeba", "celeba-hq"),
                        help="a named framing instead of a model's (default without either: celeba)")
    masks = parser.add_mutually_exclusive_group()
    masks.add_argument("--mask", metavar="MASK",
                       help="ID mask in the photo's pixel frame to crop the same way (-> DIR/mask.png)")
    masks.add_argument("--auto-mask", action="store_true",
                       help="parse the photo automatically and crop that mask (-> DIR/mask.png)")
    parser.add_argument("--face", type=int, default=0, metavar="N",
                        help="which face when there are several, 0 = largest (default 0)")
    parser.add_argument("--size", type=int, default=512, help="crop side in pixels (default 512)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from models import labels
    from models.cli import CommandError
    from models.io.images import save_image
    from models import intake

    if args.size < 16:
        raise CommandError(f"--size must be at least 16, got {args.size}")
    start = time.perf_counter()
    try:
        framing = intake.framing_by_name(args.framing) if args.framing else intake.read_model_framing(args.model)
        photo = intake.load_photo(args.photo)
        faces = intake.detect_faces(photo)
        face = intake.pick_face(faces, args.face, photo.name)
        aligned = intake.align_face(photo, face, framing, args.size)
        mask = None
        if args.mask:
            mask = intake.crop_mask(intake.load_mask(args.mask), aligned.transform)
        elif args.auto_mask:
            mask = intake.crop_mask(intake.parse_face(photo, face), aligned.transform)
        out = Path(args.out)
        save_image(out / "crop.png", aligned.crop)
        aligned.transform.save(out / "transform.json")
        if mask is not None:
            save_image(out / "mask.png", mask)
            save_image(out / "mask_color.png", labels.colorize(mask))
    except intake.IntakeError as exc:
        raise CommandError(str(exc)) from None
    for note in photo.notes:
        print(f"note: {note}")
    if len(faces) > 1:
        print(f"note: {len(faces)} faces found; aligned face {args.face} (0 = largest; choose with --face)")
    for warning in aligned.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {out / 'crop.png'} and {out / 'transform.json'}"
          + (f" and {out / 'mask.png'}" if mask is not None else "")
          + f" (framing {framing.name}, {time.perf_counter() - start:.2f} s)")
    return 0
