"""Errors as dialogs, never tracebacks: exception -> one clear message, and logging to a file.

Every failure a user can cause (a bad photo, mask, model, dataset or curriculum; a folder
that cannot be written) reaches the user as a short message naming the file and the reason.
Anything unexpected is shown as such, with the log file that holds the traceback.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger("fenerf_app")
LOG_NAME = "fenerf-studio.log"


class NotAvailableError(RuntimeError):
    """A feature whose core module is not part of this build."""


class UserError(ValueError):
    """A request the app refuses, with the reason in one line (e.g. 'open a portrait first')."""


def _user_error_types() -> tuple[type, ...]:
    """Exception types whose message is written for the user (imported lazily; optional modules skipped)."""
    types: list[type] = [NotAvailableError, UserError, FileExistsError]
    for module, name in (("models.io.errors", "CheckpointError"), ("models.labels", "LabelError"),
                         ("models.intake.errors", "IntakeError"), ("painter.maskio", "ImageFileError"),
                         ("models.data.scan", "DatasetError"), ("models.train.curriculum", "CurriculumError"),
                         ("models.invert.lpips", "LpipsError"), ("models.invert.targets", "TargetError"),
                         ("models.export.mesh", "MeshError"), ("models.bake.volume", "BakeBudgetError"),
                         ("fenerf_app.editsession", "SessionError")):
        try:
            types.append(getattr(__import__(module, fromlist=[name]), name))
        except (ImportError, AttributeError):
            continue
    return tuple(types)


def data_dir() -> Path:
    """Per-user data folder: $XDG_DATA_HOME/fenerf-studio (default ~/.local/share/fenerf-studio)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "fenerf-studio"


def log_file() -> Path:
    """Where the app's log is written."""
    return data_dir() / "logs" / LOG_NAME


def setup_logging(path: Path | None = None, level: int = logging.INFO) -> Path:
    """Send the app's and the core's log records to a rotating file (once); returns its path."""
    path = path or log_file()
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename) == path.resolve():
            return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError as exc:
        print(f"fenerf-studio: cannot write the log file {path} ({exc.strerror}); logging to stderr",
              file=sys.stderr)
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(min(root.level or level, level))
    return path


def describe(exc: BaseException) -> str:
    """The one-line message a user sees for an exception."""
    if isinstance(exc, _user_error_types()):
        return str(exc) or type(exc).__name__
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    if isinstance(exc, MemoryError):
        return "out of memory: try a smaller resolution or close other portraits"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return (f"unexpected error ({type(exc).__name__}{': ' + text if text else ''}). "
            f"Details are in the log: {log_file()}")


def is_user_error(exc: BaseException) -> bool:
    """True for errors caused by the input (no traceback is logged for them)."""
    return isinstance(exc, (*_user_error_types(), OSError))


def report(exc: BaseException, context: str) -> str:
    """Log an exception (with traceback when unexpected) and return its user message."""
    message = describe(exc)
    if is_user_error(exc):
        log.warning("%s: %s", context, message)
    else:
        log.error("%s", context, exc_info=(type(exc), exc, exc.__traceback__))
    return message


def show_error(parent: QWidget | None, title: str, message: str) -> QMessageBox:
    """A window-modal error dialog that does not block the event loop (workers keep reporting)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorDialog")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def install_excepthook(parent_getter) -> None:
    """Uncaught exceptions in Qt slots become dialogs (PyQt would otherwise abort the process)."""
    def hook(kind, exc, tb) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        message = report(exc.with_traceback(tb), "uncaught exception")
        try:
            show_error(parent_getter(), "Something went wrong", message)
        except RuntimeError:
            print(message, file=sys.stderr)
    sys.excepthook = hook


def attempt(parent: QWidget | None, title: str, fn, *args, **kwargs):
    """Call `fn`; any exception becomes a dialog titled `title` (returns None then)."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        show_error(parent, title, report(exc, title))
        return None
