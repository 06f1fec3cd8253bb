"""The whole flow in the real window, offscreen, on the demo model, with real mouse events:
photo -> automatic mask -> paint -> undo/redo -> invert -> tune -> paint an edit -> re-invert geometry
(on the tuned generator) -> orbit -> swap -> export mesh and video -> start and stop training. An event-loop latency probe
runs during the inversion and the orbit: the UI thread never stalls for 50 ms."""
import json

import imageio_ffmpeg
import numpy as np
import pytest
import trimesh
import torch
from PyQt6.QtCore import QPoint, Qt

from fenerf_app import exporting
from fenerf_app.session import StudioSession
from fenerf_app.window import MainWindow
from models.bake.camera import DRAG_RADIANS_PER_PIXEL
from models.data.writer import write_dataset
from models.invert.presets import preset
from models.invert.tune_settings import tune_preset
from models.labels import ID, PALETTE
from tests.app.helpers import LatencyProbe, wait_idle
from tests.models.train.helpers import write_curricula

MAX_STALL_MS = 50
TINY = preset("quick").replace(iterations=8, size=32, grid=((0, 16),), eval_every=4, eval_size=32,
                                eval_steps=8, patience=None, start_candidates=16)
TINY_TUNE = tune_preset("quick").replace(iterations=6, size=32, rays=16, eval_every=3, eval_size=32, eval_steps=8,
                                         lambda_percept=0.0)


@pytest.fixture
def window(qtbot, demo_model, tmp_path):
    session = StudioSession(session_root=tmp_path / "sessions", autosave_ms=500)
    win = MainWindow(session=session, load_model=False)
    qtbot.addWidget(win)
    win.resize(1300, 800)
    win.show()
    qtbot.waitExposed(win)
    session.use_model(demo_model)
    yield win
    win.close()


def paint(qtbot, canvas, points) -> None:
    """A brush stroke with the mouse through image points."""
    widget = [canvas.map_from_image(x, y).toPoint() for x, y in points]
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=widget[0])
    for pos in widget[1:]:
        qtbot.mouseMove(canvas, pos)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=widget[-1])


def drag(qtbot, widget, start: QPoint, steps: int, dx: int, dy: int, pause_ms: int = 20) -> None:
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, steps + 1):
        qtbot.mouseMove(widget, start + QPoint(dx * k, dy * k))
        qtbot.wait(pause_ms)
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=start + QPoint(dx * steps, dy * steps))


def test_the_whole_flow(qtbot, window, portrait_folder, tmp_path):
    session, canvas = window.session, window.paint_panel.canvas
    errors, notices = [], []
    session.errorRaised.connect(lambda title, message: errors.append((title, message)))
    session.notice.connect(notices.append)

    # photo -> aligned crop and automatic mask
    session.open_photo(portrait_folder / "img.jpg")
    wait_idle(qtbot, session, "portrait")
    portrait = session.current
    assert canvas.document is portrait.document and portrait.document.shape == (512, 512)
    auto = portrait.document.mask.copy()
    assert (auto == ID["skin"]).mean() > 0.1

    # paint strokes with the mouse; undo / redo
    qtbot.mouseClick(window.palette_widget.button(ID["hat"]), Qt.MouseButton.LeftButton)
    canvas.set_brush_radius(12)
    paint(qtbot, canvas, [(150, 40), (250, 30), (350, 40)])
    hat = portrait.document.mask == ID["hat"]
    assert hat.sum() > 1000 and not (auto == ID["hat"]).any()
    controls = window.paint_panel.controls
    controls.undo_action.trigger()
    assert np.array_equal(portrait.document.mask, auto)
    controls.redo_action.trigger()
    assert np.array_equal(portrait.document.mask == ID["hat"], hat)

    # invert with a tiny preset, the probe watching the event loop
    panel = window.inversion_panel
    panel.add_preset("test", TINY, TINY_TUNE)
    assert panel.tune_check.isChecked()                        # tuning is on by default
    probe = LatencyProbe().start()
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert session.busy("invert")
    wait_idle(qtbot, session, "invert", 120_000)
    stall = probe.stop()
    assert stall < MAX_STALL_MS, f"the UI stalled {stall:.0f} ms during the inversion"
    assert probe.ticks > 10 and portrait.codes is not None and portrait.inversion is not None
    assert panel.status.text().startswith("Done") and panel.preview.pixmap() is not None
    inverted, tuned = portrait.codes, portrait.tuned
    assert tuned is not None and tuned.info["iteration"] in (0, 3, 6)
    assert "tuned: foreground PSNR" in notices[-1]
    viewport = window.view_panel.viewport
    qtbot.waitUntil(lambda: viewport.frame is not None and viewport.frame.final, timeout=60_000)
    assert viewport.scene.generator is session.generator_for(portrait) is portrait.tuned_generator

    # paint an edit (bigger hair on top) and re-invert the geometry
    qtbot.mouseClick(window.palette_widget.button(ID["hair"]), Qt.MouseButton.LeftButton)
    paint(qtbot, canvas, [(120, 60), (256, 40), (390, 60)])
    edited = portrait.document.mask.copy()
    qtbot.mouseClick(panel.reinvert_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, session, "invert", 120_000)
    assert np.array_equal(portrait.fitted_mask, edited)
    assert any("edited region" in n and "outside the region" in n for n in notices)   # measured against the edit
    moved = portrait.inversion.info["iteration"] > 0           # the best state is not the start
    assert torch.equal(portrait.codes.geo_freq, inverted.geo_freq) != moved
    assert torch.allclose(portrait.codes.app_freq, inverted.app_freq)   # appearance frozen
    assert portrait.tuned is tuned                               # the edit ran on the tuned generator

    # orbit by dragging; the final frame is of the last camera
    qtbot.waitUntil(lambda: viewport.frame is not None and viewport.frame.final, timeout=60_000)
    probe = LatencyProbe().start()
    drag(qtbot, viewport, QPoint(100, 150), 15, 5, 1)
    qtbot.waitUntil(lambda: viewport.frame.final and viewport.frame.camera == viewport.camera, timeout=60_000)
    stall = probe.stop()
    assert stall < MAX_STALL_MS, f"the UI stalled {stall:.0f} ms during the orbit"
    assert viewport.camera.yaw == pytest.approx(np.pi / 2 + 75 * DRAG_RADIANS_PER_PIXEL)

    # paint over the rendered mask of this view (one undo step)
    window.paint_over_view()
    assert portrait.document.history_descriptions()[-1] == "rendered mask"
    controls.undo_action.trigger()

    # a second portrait; swap appearances
    session.new_random_portrait(7)
    wait_idle(qtbot, session, "portrait")
    other = session.current
    before_other, before_portrait = other.codes, portrait.codes
    session.swap_appearance(portrait.id, other.id)
    assert torch.equal(other.codes.app_freq, before_portrait.app_freq)
    assert torch.equal(other.codes.geo_freq, before_other.geo_freq)
    assert torch.equal(portrait.codes.app_freq, before_other.app_freq)
    session.set_current(portrait.id)

    # exports with progress dialogs
    mesh = tmp_path / "out" / "face.ply"
    video = tmp_path / "out" / "orbit.mp4"
    window.run_export("mesh", lambda: session.export_mesh(exporting.MeshOptions(mesh, resolution=32)))
    wait_idle(qtbot, session, "export", 120_000)
    window.run_export("video", lambda: session.export_video(
        exporting.VideoOptions(video, frames=4, size=32, steps=8, bake_resolution=32)))
    wait_idle(qtbot, session, "export", 120_000)
    surface = trimesh.load(mesh, process=False)
    colours = {tuple(c) for c in np.asarray(surface.visual.vertex_colors)[:, :3]}
    assert len(surface.vertices) > 100 and colours <= {tuple(c) for c in PALETTE.tolist()}
    reader = imageio_ffmpeg.read_frames(str(video))
    meta = next(reader)
    assert meta["size"] == (96, 32) and len(list(reader)) == 4        # [RGB | mask | depth] x 4 frames

    # training: start on a tiny dataset, stop after the first metrics line
    dataset = write_dataset(tmp_path / "dataset", 4, 32, 0, 1, progress=False)
    dialog = window.show_training()
    assert dialog.load_curricula_file(write_curricula(tmp_path / "curricula.toml"))
    dialog.curriculum_combo.setCurrentIndex(dialog.curriculum_combo.findData("tiny"))
    dialog.set_dataset(dataset)
    qtbot.waitUntil(lambda: dialog.dataset_ok, timeout=10_000)
    run = tmp_path / "run"
    dialog.set_run_folder(run)
    dialog.log_every.setValue(1)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (dialog.poll(), dialog.records > 0)[1], timeout=120_000)
    qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, session, "train", 120_000)
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "stopped" and status["step"] >= 1
    assert (run / "checkpoints" / "latest").is_dir() and dialog.resume_button.isEnabled()
    assert errors == []
