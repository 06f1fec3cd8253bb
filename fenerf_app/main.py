"""`fenerf-studio` / `python main.py`: start the desktop app."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fenerf-studio", description="FENeRF Studio desktop app")
    parser.add_argument("--model", default=None, help="model file (default: the bundled demo model)")
    args = parser.parse_args(argv)
    from PyQt6.QtWidgets import QApplication

    from fenerf_app.window import MainWindow
    app = QApplication(sys.argv[:1])
    app.setApplicationName("FENeRF Studio")
    window = MainWindow(args.model)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
