"""Bad input becomes a clear one-line message in a dialog; details go to the log file."""
import logging
import sys

import pytest
from PyQt6.QtWidgets import QMessageBox, QWidget

from fenerf_app.errors import (NotAvailableError, attempt, describe, install_excepthook, log_file, report,
                               setup_logging)
from models.data.scan import scan_dataset
from models.intake import load_photo
from models.io.model import load_model
from models.labels import LabelError
from models.train.curriculum import get_curriculum


def raised(fn, *args):
    with pytest.raises(Exception) as info:
        fn(*args)
    return info.value


def test_user_errors_from_the_core_keep_their_own_one_line_message(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "garbage.fenerf").write_bytes(b"\x00" * 10)
    cases = [raised(load_model, tmp_path / "garbage.fenerf"), raised(load_photo, tmp_path / "missing.jpg"),
             raised(scan_dataset, tmp_path / "empty"), raised(get_curriculum, "nope"),
             LabelError("mask.png: id 40 is not a label (ids are 0..18)"),
             NotAvailableError("video export is not available in this build")]
    for exc in cases:
        message = describe(exc)
        assert message == str(exc) and "\n" not in message and "unexpected" not in message


def test_os_errors_name_the_file_and_unexpected_errors_point_to_the_log():
    assert describe(PermissionError(13, "Permission denied", "/root/x.png")) == "/root/x.png: Permission denied"
    message = describe(ZeroDivisionError("division by zero"))
    assert message.startswith("unexpected error (ZeroDivisionError: division by zero)") and str(log_file()) in message


def test_the_log_file_gets_tracebacks_of_unexpected_errors_only(tmp_path):
    path = setup_logging(tmp_path / "logs" / "app.log")
    try:
        try:
            {}["boom"]
        except KeyError as exc:
            report(exc, "exporting")
        report(LabelError("bad ids"), "opening a mask")
    finally:
        for handler in logging.getLogger().handlers[:]:
            if getattr(handler, "baseFilename", None) == str(path.resolve()):
                logging.getLogger().removeHandler(handler)
                handler.close()
    text = path.read_text()
    assert "exporting" in text and "Traceback" in text and "KeyError: 'boom'" in text
    assert "opening a mask: bad ids" in text and text.count("Traceback") == 1


def test_attempt_and_the_excepthook_show_dialogs_instead_of_tracebacks(qtbot, monkeypatch):
    parent = QWidget()
    qtbot.addWidget(parent)
    assert attempt(parent, "Cannot open", load_photo, "/nonexistent/photo.jpg") is None
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    install_excepthook(lambda: parent)
    try:
        raise RuntimeError("a slot went wrong")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    boxes = parent.findChildren(QMessageBox)
    texts = sorted((box.windowTitle(), box.text()) for box in boxes)
    assert texts[0] == ("Cannot open", "/nonexistent/photo.jpg: no such file")
    assert texts[1][0] == "Something went wrong" and "a slot went wrong" in texts[1][1]
