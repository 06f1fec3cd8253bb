"""``python -m painter [mask.png] [--photo img.jpg]``: the standalone mask painter."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.labels import LabelError


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m painter", description="Paint a CelebAMask-HQ ID mask.")
    parser.add_argument("mask", nargs="?", type=Path, help="ID mask PNG (ids 0..18, or palette colours)")
    parser.add_argument("--photo", type=Path, help="photo shown under the mask")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Open the painter window; bad files are reported on stderr with exit status 2."""
    args = _parse(argv)
    from painter import maskio   # Qt and image libraries only after the arguments are fine

    try:
        photo = None if args.photo is None else maskio.load_photo(args.photo)
        loaded = None if args.mask is None else maskio.load_mask(args.mask)
    except (LabelError, maskio.ImageFileError) as exc:
        print(f"python -m painter: error: {exc}", file=sys.stderr)
        return 2
    from PyQt6.QtWidgets import QApplication

    from painter.window import PainterWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = PainterWindow(photo=photo)
    if loaded is not None and not window.use_mask(loaded, args.mask):
        return 1
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
