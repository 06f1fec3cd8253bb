"""The window's panels driven like a user: the latent inspector, inversion cancel, error dialogs."""
import pytest
import torch
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QMessageBox

from fenerf_app.main import main
from fenerf_app.session import StudioSession
from fenerf_app.window import MainWindow
from models.invert.presets import preset
from tests.app.helpers import wait_idle


@pytest.fixture
def window(qtbot, demo_model, tmp_path):
    session = StudioSession(session_root=tmp_path / "sessions")
    win = MainWindow(session=session, load_model=False)
    qtbot.addWidget(win)
    win.show()
    session.use_model(demo_model)
    yield win
    win.close()


def dialogs(window) -> list[tuple[str, str]]:
    return [(box.windowTitle(), box.text()) for box in window.findChildren(QMessageBox) if box.isVisible()]


def test_bad_input_and_early_actions_become_dialogs(qtbot, window, tmp_path):
    window.inversion_panel.start(geometry_only=False)
    window.paint_over_view()
    (tmp_path / "face.jpg").write_bytes(b"\xff\xd8 truncated")
    window.session.open_photo(tmp_path / "face.jpg")
    wait_idle(qtbot, window.session, "portrait")
    shown = dialogs(window)
    assert ("Cannot invert", "open a photo or create a random portrait first") in shown
    assert ("Nothing rendered", "the 3D view shows nothing yet: invert the portrait first") in shown
    assert any(t == "Cannot open face.jpg" and "face.jpg: not a readable image" in m for t, m in shown)


def test_the_inspector_edits_the_current_codes(qtbot, window):
    session, inspector = window.session, window.inspector
    session.new_random_portrait(11)
    wait_idle(qtbot, session, "portrait")
    first = session.current
    session.new_random_portrait(12)
    wait_idle(qtbot, session, "portrait")
    session.set_current(first.id)
    assert inspector.psi_slider.isEnabled() and inspector.source_combo.count() == 1
    inspector.psi_slider.setValue(50)
    assert first.psi == pytest.approx(0.5) and "psi 0.50" in inspector.title.text()
    before = first.codes
    inspector.appearance_check.setChecked(False)
    inspector.seed_spin.setValue(99)
    qtbot.mouseClick(inspector.random_button, Qt.MouseButton.LeftButton)
    assert not torch.equal(first.codes.geo_freq, before.geo_freq)
    assert torch.equal(first.codes.app_freq, before.app_freq)
    qtbot.mouseClick(inspector.copy_button, Qt.MouseButton.LeftButton)
    second = [p for p in session.portraits.values() if p is not first][0]
    assert torch.equal(first.codes.app_freq, second.codes.app_freq)
    qtbot.mouseClick(inspector.reset_button, Qt.MouseButton.LeftButton)
    assert torch.equal(first.codes.geo_freq, first.start_codes.geo_freq) and first.psi == 1.0
    image = inspector.heatmap.image
    assert image.shape == (session.model.generator.cfg.geo_layers, 2 * session.model.generator.cfg.hidden_dim)


def test_cancelling_an_inversion_keeps_the_best_codes_so_far(qtbot, window):
    session, panel = window.session, window.inversion_panel
    session.new_random_portrait(13)
    wait_idle(qtbot, session, "portrait")
    records = []
    session.inversionRecord.connect(lambda _p, record: records.append(record))
    panel.add_preset("long", preset("quick").replace(iterations=400, size=32, grid=((0, 16),), eval_every=2,
                                                     eval_size=32, eval_steps=8, patience=None,
                                                     start_candidates=16))
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(records) >= 4, timeout=60_000)
    assert panel.cancel_button.isEnabled()
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, session, "invert")
    assert records[-1].stopped == "cancelled" and records[-1].iteration < 400
    assert session.current.inversion is not None and panel.start_button.isEnabled()


def test_the_entry_point_knows_its_options(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0 and "--model" in capsys.readouterr().out
