"""The session layer on the demo model: photos, masks, codes, jobs and errors."""
import numpy as np
import pytest
import torch
from PIL import Image

from fenerf_app.errors import UserError
from fenerf_app.jobs import photo_mask_to_crop
from models.intake import IntakeError
from models.labels import ID
from painter import maskio
from tests.app.helpers import wait_task


def errors_of(session) -> list:
    seen = []
    session.errorRaised.connect(lambda title, message: seen.append((title, message)))
    return seen


def test_a_bad_model_file_becomes_an_error_message(qtbot, session, tmp_path):
    errors = errors_of(session)
    bad = tmp_path / "broken.fenerf"
    bad.write_bytes(b"not a model at all")
    wait_task(qtbot, session.open_model(bad))
    assert len(errors) == 1 and errors[0][0] == "Cannot open the model"
    assert str(bad) in errors[0][1] and "Traceback" not in errors[0][1]
    assert session.model is not None                     # the previous model stays


def test_a_file_that_is_not_a_photo_and_a_photo_without_a_face(qtbot, session, tmp_path):
    errors = errors_of(session)
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    wait_task(qtbot, session.open_photo(text))
    flat = tmp_path / "wall.png"
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(flat)
    wait_task(qtbot, session.open_photo(flat))
    assert [e[0] for e in errors] == ["Cannot open notes.jpg", "Cannot open wall.png"]
    assert "notes.jpg: not a readable image" in errors[0][1]
    assert "wall.png: no face found" in errors[1][1]
    assert session.portraits == {}


def test_a_photo_is_aligned_and_masked_and_a_whole_photo_mask_is_cropped_like_it(qtbot, session, portrait_folder):
    wait_task(qtbot, session.open_photo(portrait_folder / "img.jpg"))
    portrait = session.current
    assert portrait.crop.shape == (512, 512, 3) and portrait.document.shape == (512, 512)
    auto = portrait.document.mask.copy()
    for name in ("skin", "nose", "l_eye", "r_eye", "hair"):
        assert (auto == ID[name]).any(), name
    session.load_mask_file(portrait_folder / "mask.png")      # 512x512 ids for the 1024x1024 photo
    hand = portrait.document.mask
    assert (hand == auto).mean() > 0.85                       # the same face, aligned the same way
    assert portrait.document.history_descriptions() == ["mask from mask.png"]
    session.auto_mask()
    assert np.array_equal(portrait.document.mask, auto)
    wrong = maskio.load_mask(portrait_folder / "mask.png").ids[:, :300]
    with pytest.raises(IntakeError, match="the mask is 300x512 but the photo is 1024x1024"):
        photo_mask_to_crop(wrong, portrait.transform)


def test_code_operations_keep_geometry_and_appearance_apart(qtbot, session):
    wait_task(qtbot, session.new_random_portrait(1))
    first = session.current
    wait_task(qtbot, session.new_random_portrait(2))
    second = session.current
    a, b = first.codes, second.codes
    session.swap_appearance(first.id, second.id)
    assert torch.equal(first.codes.geo_freq, a.geo_freq) and torch.equal(first.codes.app_freq, b.app_freq)
    assert torch.equal(second.codes.geo_phase, b.geo_phase) and torch.equal(second.codes.app_phase, a.app_phase)
    session.set_current(first.id)
    session.reset_codes()
    assert torch.equal(first.codes.app_freq, a.app_freq)
    session.interpolate(second.id, 1.0, geometry=True, appearance=False)
    assert torch.allclose(first.codes.geo_freq, second.codes.geo_freq, atol=1e-6)
    assert torch.equal(first.codes.app_freq, a.app_freq)
    session.set_psi(0.0)
    average = session.average_codes()
    assert torch.allclose(first.effective_codes(average).geo_freq, average.geo_freq)
    session.copy_appearance(second.id)
    assert torch.equal(first.codes.app_phase, second.codes.app_phase)
    with pytest.raises(UserError, match="two different portraits"):
        session.swap_appearance(first.id, first.id)
    with pytest.raises(UserError, match="psi must be between"):
        session.set_psi(3.0)


def test_a_second_job_of_a_kind_is_refused_while_one_runs(qtbot, session):
    task = session.new_random_portrait(3)
    with pytest.raises(UserError, match="already running"):
        session.new_random_portrait(4)
    wait_task(qtbot, task)
    assert len(session.portraits) == 1


def test_the_autosaved_folder_reopens_with_history_and_codes(qtbot, session, tmp_path, demo_model):
    from fenerf_app.session import StudioSession
    wait_task(qtbot, session.new_random_portrait(5))
    portrait = session.current
    doc = portrait.document
    doc.label = ID["hair"]
    doc.press(10, 10)
    doc.drag(60, 40)
    doc.release()
    session.set_psi(0.5)
    with qtbot.waitSignal(session.autosaver.saved, timeout=10_000):
        pass
    other = StudioSession(session_root=tmp_path / "elsewhere")
    other.use_model(demo_model)
    other.open_folder(session.folder)
    again = other.current
    assert again.name == "seed 5" and again.psi == 0.5
    assert np.array_equal(again.document.mask, doc.mask)
    assert again.document.history_descriptions() == doc.history_descriptions()
    assert torch.equal(again.codes.geo_freq, portrait.codes.geo_freq)
    other.shutdown()


def test_an_empty_mask_is_refused_by_the_inversion_with_the_reason(qtbot, session):
    errors = errors_of(session)
    wait_task(qtbot, session.new_random_portrait(8))
    session.current.document.replace_mask(np.zeros((256, 256), np.uint8), "erase all")
    wait_task(qtbot, session.invert("quick"))
    assert errors == [("Inverting failed", "mask is empty (almost every pixel is background, id 0)")]


def test_an_official_checkpoint_replaces_the_model_and_drops_codes_that_do_not_fit(qtbot, session,
                                                                                    official_fixtures):
    notices = []
    session.notice.connect(notices.append)
    wait_task(qtbot, session.new_random_portrait(9))
    portrait = session.current
    with qtbot.waitSignal(session.modelChanged, timeout=60_000):
        session.open_model(official_fixtures.generator_a)
    assert session.model.kind == "official" and portrait.codes is None
    assert any("belong to another model" in n for n in notices)


def test_the_first_inversion_reports_the_start_bank_and_the_next_starts_at_once(qtbot, session, monkeypatch,
                                                                                 tmp_path):
    from models.invert import start_bank
    from models.invert.presets import preset
    monkeypatch.setenv("FENERF_CACHE", str(tmp_path))
    monkeypatch.setattr(start_bank, "_MEMORY", {})
    settings = preset("quick").replace(iterations=2, size=32, grid=((0, 8),), eval_size=32, eval_steps=8,
                                       start_candidates=40)
    wait_task(qtbot, session.new_random_portrait(8))

    def run() -> list:
        seen = []
        task = session.invert(settings)
        task.progress.connect(lambda done, total, text: seen.append((done, total, text)))
        wait_task(qtbot, task)
        assert session.current.codes is not None
        assert seen[-1][2] == "fitting the codes"              # the bank's text does not outlive it
        return [s for s in seen if "start codes" in s[2]]

    first = run()
    assert first and first[-1][:2] == (40, 40)                 # shown while the bank renders
    assert list(tmp_path.glob("start-banks/*.npz"))
    monkeypatch.setattr(start_bank, "_MEMORY", {})             # as after a restart: read from the cache
    assert run() == []
