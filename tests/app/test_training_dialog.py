"""The training dialog: a dataset chooser that validates, run-folder rules, start and resume."""
import json

import numpy as np
import pytest
from PIL import Image
from PyQt6.QtCore import Qt

from fenerf_app.training_dialog import RunFollower, TrainingDialog, format_eta
from models.data.writer import write_dataset
from models.train.runfolder import RunFolder
from tests.app.helpers import wait_idle
from tests.models.train.helpers import write_curricula


@pytest.fixture
def dialog(qtbot, session, tmp_path):
    dlg = TrainingDialog(session)
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.load_curricula_file(write_curricula(tmp_path / "curricula.toml"))
    dlg.curriculum_combo.setCurrentIndex(dlg.curriculum_combo.findData("tiny"))
    return dlg


def checked(qtbot, dialog, folder) -> str:
    dialog.dataset_status.setText("")
    dialog.set_dataset(folder)
    qtbot.waitUntil(lambda: not dialog.session.busy("dataset") and dialog.dataset_status.text() != "Checking...")
    return dialog.dataset_status.text()


def test_the_dataset_chooser_says_what_is_wrong(qtbot, dialog, tmp_path):
    assert "folder does not exist" in checked(qtbot, dialog, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    assert "folder is empty" in checked(qtbot, dialog, tmp_path / "empty")
    (tmp_path / "photos").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "photos" / "a.jpg")
    assert "no dataset folders found" in checked(qtbot, dialog, tmp_path / "photos")
    lossy = write_dataset(tmp_path / "lossy", 2, 16, 0, 1, progress=False)
    mask = lossy / "celebahq_mask_mask" / "1.png"
    Image.open(mask).convert("L").save(mask.with_suffix(".jpg"))
    mask.unlink()
    text = checked(qtbot, dialog, lossy)
    assert "1.jpg" in text and not dialog.dataset_ok and not dialog.start_button.isEnabled()
    good = write_dataset(tmp_path / "good", 2, 16, 0, 1, progress=False)
    assert "2 pairs" in checked(qtbot, dialog, good) and dialog.dataset_ok
    dialog.set_run_folder(tmp_path / "run")
    assert dialog.start_button.isEnabled() and not dialog.resume_button.isEnabled()


def test_a_run_is_started_then_resumed_from_its_checkpoint(qtbot, dialog, session, tmp_path):
    checked(qtbot, dialog, write_dataset(tmp_path / "data", 4, 32, 0, 1, progress=False))
    run = tmp_path / "run"
    dialog.set_run_folder(run)
    dialog.log_every.setValue(1)
    dialog.max_steps.setValue(2)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, session, "train", 120_000)
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    assert dialog.records == 2 and "finished: step 2 of 2" in dialog.status_label.text()
    assert not dialog.start_button.isEnabled() and dialog.resume_button.isEnabled()
    dialog.max_steps.setValue(3)
    qtbot.mouseClick(dialog.resume_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, session, "train", 120_000)
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "finished" and status["step"] == 3
    assert [r["step"] for r in RunFolder(run).read_metrics()] == [1, 2, 3]
    assert dialog.preview.pixmap() is not None and not dialog.preview.pixmap().isNull()


def test_the_follower_skips_a_line_being_written(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n{"step": 3, "d_im')
    follower = RunFollower(tmp_path)
    assert [r["step"] for r in follower.new_records()] == [1, 2]
    with open(path, "a") as handle:
        handle.write('g": 1.0}\n')
    assert follower.new_records() == [{"step": 3, "d_img": 1.0}]
    assert format_eta(3725) == "1 h 02 min" and format_eta(None) == "unknown"
