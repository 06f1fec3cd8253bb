"""`fenerf-studio` / `python main.py`: start the desktop app."""
from __future__ import annotations

import argparse
import logging
import os
import sys


def configure_threads() -> None:
    """Leave a core to the UI thread: torch's intra-op pool gets all but one core."""
    import torch
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fenerf-studio", description="FENeRF Studio desktop app")
    parser.add_argument("--model", default=None, help="model file (default: the bundled demo model)")
    parser.add_argument("--session", default=None, metavar="DIR", help="reopen an edit-session folder")
    args = parser.parse_args(argv)
    from PyQt6.QtWidgets import QApplication

    from fenerf_app.errors import install_excepthook, setup_logging
    from fenerf_app.window import MainWindow
    log_path = setup_logging()
    logging.getLogger("fenerf_app").info("starting FENeRF Studio (model %s, session %s)", args.model, args.session)
    configure_threads()
    app = QApplication(sys.argv[:1])
    app.setApplicationName("FENeRF Studio")
    window = MainWindow(args.model, session_folder=args.session)
    install_excepthook(lambda: window)
    window.show()
    window.statusBar().showMessage(f"Log: {log_path}", 5000)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
