"""Exports through the session: files written, bad settings refused clearly, cancel from the dialog."""
import numpy as np
import pytest
from PIL import Image
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QPushButton, QWidget

from fenerf_app import exporting
from fenerf_app.errors import UserError
from fenerf_app.export_dialogs import MeshDialog, progress_dialog
from tests.app.helpers import wait_task


@pytest.fixture
def face(qtbot, session):
    wait_task(qtbot, session.new_random_portrait(21))
    return session.current


def test_multiview_writes_every_view_and_the_grids(qtbot, session, face, tmp_path):
    out = tmp_path / "views"
    task = session.export_multiview(exporting.MultiviewOptions(out, (-0.3, 0.0, 0.3), size=32, steps=8))
    progress = []
    task.progress.connect(lambda done, total, _t: progress.append((done, total)))
    wait_task(qtbot, task)
    assert progress[-1] == (3, 3)
    grid = np.asarray(Image.open(out / "grid_portrait_RGB.png"))
    assert grid.shape == (32, 96, 3)
    ids = np.asarray(Image.open(out / "portrait_view1_mask_ids.png"))
    assert ids.shape == (32, 32) and ids.max() <= 18


def test_a_mesh_level_outside_the_density_range_is_a_clear_error(qtbot, session, face, tmp_path):
    errors = []
    session.errorRaised.connect(lambda title, message: errors.append((title, message)))
    wait_task(qtbot, session.export_mesh(exporting.MeshOptions(tmp_path / "m.ply", resolution=16, level=1e6)))
    assert errors[0][0] == "Mesh export failed" and "no surface at density level 1e+06" in errors[0][1]
    assert not (tmp_path / "m.ply").exists()


def test_the_progress_dialog_cancels_the_export(qtbot, session, face, tmp_path):
    ended = []
    session.taskEnded.connect(lambda kind, state: ended.append((kind, state)))
    parent = QWidget()
    qtbot.addWidget(parent)
    task = session.export_video(exporting.VideoOptions(tmp_path / "v.mp4", frames=1000, size=32, steps=8,
                                                       bake_resolution=32))
    dialog = progress_dialog(task, "Exporting the video", parent)
    qtbot.waitUntil(lambda: dialog.value() > 0, timeout=30_000)
    (button,) = dialog.findChildren(QPushButton)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    wait_task(qtbot, task)
    assert ("export", "cancelled") in ended and not (tmp_path / "v.mp4").exists()


def test_export_options_are_checked_before_anything_runs(qtbot, session, tmp_path):
    with pytest.raises(UserError, match="open a photo or create a random portrait first"):
        session.export_mesh(exporting.MeshOptions(tmp_path / "m.ply"))
    dialog = MeshDialog("Export mesh", tmp_path / "face.stl")
    qtbot.addWidget(dialog)
    with pytest.raises(UserError, match="face.stl: choose a file ending in .ply or .obj or .glb"):
        dialog.options()
