"""Edit sessions: the mask history mirror, the folder format, atomic writes, restore, autosave."""
import json

import numpy as np
import pytest
import torch

from fenerf_app import editsession
from fenerf_app.editsession import Autosaver, SessionError, read_session, snapshot_portrait, write_session
from fenerf_app.portrait import MaskTimeline, Portrait
from fenerf_app.sessionrestore import restore_portraits
from models.field.codes import Codes
from painter import maskio
from painter.document import LabelDocument
from tests.app.helpers import wait_task


@pytest.fixture
def real_mask(portrait_folder) -> np.ndarray:
    return maskio.load_mask(portrait_folder / "mask.png").ids


def stroke(doc: LabelDocument, label: int, points) -> None:
    doc.label = label
    doc.press(*points[0])
    for point in points[1:]:
        doc.drag(*point)
    doc.release()


def edited_portrait(real_mask, history_limit=100) -> Portrait:
    doc = LabelDocument(real_mask, history_limit=history_limit)
    portrait = Portrait("p1", "real", MaskTimeline(doc), crop=np.full((*real_mask.shape, 3), 90, np.uint8))
    stroke(doc, 13, [(100, 100), (200, 120)])
    stroke(doc, 18, [(250, 300), (260, 330)])
    doc.tool = "fill"
    doc.label = 17
    doc.press(5, 5)
    doc.undo()
    codes = Codes(*(torch.randn(1, n) for n in (8, 8, 4, 4)))
    portrait.set_codes(codes, reset_point=True)
    portrait.set_codes(codes.map(lambda t: t * 2))
    portrait.psi, portrait.settings = 0.8, {"note": "test"}
    return portrait


def test_the_timeline_mirrors_undo_redo_and_new_edits(real_mask):
    doc = LabelDocument(real_mask)
    timeline = MaskTimeline(doc)
    masks = [doc.mask.copy()]
    stroke(doc, 13, [(10, 10), (60, 10)])
    masks.append(doc.mask.copy())
    stroke(doc, 2, [(300, 300), (320, 340)])
    masks.append(doc.mask.copy())
    assert [s.description for s in timeline.states] == ["start", "brush stroke (hair)", "brush stroke (nose)"]
    doc.undo()
    assert timeline.position == 1 and len(timeline.states) == 3
    doc.redo()
    assert timeline.position == 2
    doc.undo()
    doc.undo()
    stroke(doc, 18, [(400, 50)])                       # a new edit drops the redo stack
    assert timeline.position == 1 and len(timeline.states) == 2
    assert np.array_equal(timeline.states[0].array(), masks[0])
    assert np.array_equal(timeline.states[1].array(), doc.mask)


def test_the_timeline_drops_what_the_document_bound_drops(real_mask):
    doc = LabelDocument(real_mask, history_limit=2)
    timeline = MaskTimeline(doc)
    for k in range(4):
        stroke(doc, 13, [(20 + 40 * k, 20)])
    assert len(timeline.states) == 3 and timeline.position == 2
    assert np.array_equal(timeline.states[-1].array(), doc.mask)
    doc.undo()
    doc.undo()
    assert np.array_equal(timeline.states[0].array(), doc.mask)


def test_a_session_folder_restores_masks_history_codes_and_settings(tmp_path, real_mask):
    portrait = edited_portrait(real_mask)
    doc = portrait.document
    write_session(tmp_path, "model.fenerf", "p1", [snapshot_portrait(portrait)])
    restored = read_session(tmp_path)
    assert restored.model == "model.fenerf" and restored.current == "p1"
    (again,) = restore_portraits(restored, lambda crop, shape: crop)
    new = again.document
    assert np.array_equal(new.mask, doc.mask)
    assert new.history_descriptions() == doc.history_descriptions()
    assert new.redo_descriptions() == doc.redo_descriptions()
    new.redo()
    doc.redo()
    assert np.array_equal(new.mask, doc.mask)
    while doc.can_undo:
        doc.undo()
        new.undo()
        assert np.array_equal(new.mask, doc.mask)
    assert np.array_equal(new.mask, real_mask)
    for name in ("geo_freq", "geo_phase", "app_freq", "app_phase"):
        assert torch.equal(getattr(again.codes, name), getattr(portrait.codes, name))
        assert torch.equal(getattr(again.start_codes, name), getattr(portrait.start_codes, name))
    assert again.psi == pytest.approx(0.8) and again.settings == {"note": "test"}
    assert np.array_equal(again.crop, portrait.crop)


def test_masks_no_longer_in_the_history_are_removed(tmp_path, real_mask):
    portrait = edited_portrait(real_mask)
    write_session(tmp_path, None, "p1", [snapshot_portrait(portrait)])
    before = set((tmp_path / "p1" / "masks").iterdir())
    stroke(portrait.document, 5, [(30, 400)])          # drops the redoable fill
    write_session(tmp_path, None, "p1", [snapshot_portrait(portrait)])
    after = set((tmp_path / "p1" / "masks").iterdir())
    assert len(after) == len(portrait.timeline.states) and len(before - after) == 1


def test_a_failed_write_leaves_the_previous_session_readable(tmp_path, real_mask, monkeypatch):
    portrait = edited_portrait(real_mask)
    write_session(tmp_path, None, "p1", [snapshot_portrait(portrait)])
    stroke(portrait.document, 5, [(30, 400)])

    def broken(path, array):
        raise OSError(28, "No space left on device", str(path))
    monkeypatch.setattr(editsession, "_write_png", broken)
    with pytest.raises(OSError, match="No space left"):
        write_session(tmp_path, None, "p1", [snapshot_portrait(portrait)])
    restored = read_session(tmp_path)
    assert len(restored.portraits[0].states) == 4
    assert not list(tmp_path.rglob("*.tmp"))


def test_bad_session_folders_are_refused_with_the_reason(tmp_path, real_mask):
    with pytest.raises(SessionError, match="not an edit session"):
        read_session(tmp_path)
    (tmp_path / "session.json").write_text("{not json")
    with pytest.raises(SessionError, match="session.json: unreadable"):
        read_session(tmp_path)
    (tmp_path / "session.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(SessionError, match="not a FENeRF Studio session"):
        read_session(tmp_path)
    portrait = edited_portrait(real_mask)
    write_session(tmp_path, None, "p1", [snapshot_portrait(portrait)])
    victim = sorted((tmp_path / "p1" / "masks").iterdir())[0]
    victim.unlink()
    with pytest.raises(SessionError, match=f"{victim.name}: missing"):
        read_session(tmp_path)


def test_the_autosaver_writes_after_a_change_only(qtbot, tmp_path, real_mask):
    portrait = edited_portrait(real_mask)
    folder = tmp_path / "auto"

    def state():
        key = (portrait.version, portrait.timeline.version)
        return folder, None, "p1", [snapshot_portrait(portrait)], key

    saver = Autosaver(state, delay_ms=50)
    with qtbot.waitSignal(saver.saved, timeout=5000):
        saver.start()
    first = (folder / "session.json").stat().st_mtime_ns
    qtbot.wait(200)
    assert (folder / "session.json").stat().st_mtime_ns == first      # nothing changed: nothing written
    stroke(portrait.document, 5, [(30, 400)])
    with qtbot.waitSignal(saver.saved, timeout=5000):
        pass
    assert len(read_session(folder).portraits[0].states) == len(portrait.timeline.states)
    saver.stop()


def painted_over(mask: np.ndarray, label: int) -> np.ndarray:
    """A copy of `mask` with a block of `label` (an edit that is in no history)."""
    edited = mask.copy()
    edited[40:120, 150:360] = label
    return edited


def manifest_entry(folder):
    (entry,) = json.loads((folder / "session.json").read_text())["portraits"]
    return entry


def photo_portrait_saved(qtbot, session, portrait_folder):
    """The shared photo opened, given a fitted mask of its own, and autosaved."""
    wait_task(qtbot, session.open_photo(portrait_folder / "img.jpg"))
    portrait = session.current
    assert portrait.auto_mask is not None
    portrait.fitted_mask = painted_over(portrait.document.mask, 14)
    portrait.touch()
    manifest = session.folder / "session.json"
    qtbot.waitUntil(lambda: manifest.exists() and manifest_entry(session.folder)["fitted_mask"] is not None,
                    timeout=10_000)
    return portrait


def reopened(session, demo_model, root):
    from fenerf_app.session import StudioSession
    other = StudioSession(session_root=root)
    other.use_model(demo_model)
    other.open_folder(session.folder)
    return other


def test_the_automatic_and_fitted_masks_survive_a_reopen(qtbot, session, demo_model, portrait_folder, tmp_path):
    portrait = photo_portrait_saved(qtbot, session, portrait_folder)
    other = reopened(session, demo_model, tmp_path / "elsewhere")
    again = other.current
    assert np.array_equal(again.auto_mask, portrait.auto_mask)
    assert np.array_equal(again.fitted_mask, portrait.fitted_mask)
    assert np.array_equal(again.document.mask, portrait.document.mask)
    other.auto_mask()                                        # the reopened portrait can go back to it
    assert np.array_equal(again.document.mask, portrait.auto_mask)
    other.shutdown()


def test_a_corrupted_fitted_mask_is_left_out_with_a_note(qtbot, session, demo_model, portrait_folder, tmp_path):
    portrait = photo_portrait_saved(qtbot, session, portrait_folder)
    session.shutdown()
    victim = session.folder / manifest_entry(session.folder)["fitted_mask"]
    victim.write_bytes(b"\x89PNG but not really")
    (note,) = read_session(session.folder).notes
    assert note.startswith(f"{portrait.name}: fitted mask left out") and str(victim) in note
    other = reopened(session, demo_model, tmp_path / "elsewhere")
    again = other.current
    assert again.fitted_mask is None
    assert np.array_equal(again.auto_mask, portrait.auto_mask)
    assert np.array_equal(again.document.mask, portrait.document.mask)
    assert np.array_equal(again.crop, portrait.crop)
    other.shutdown()


def test_extra_masks_share_files_are_checked_and_stale_ones_are_removed(tmp_path, real_mask):
    portrait = edited_portrait(real_mask)
    masks = tmp_path / "p1" / "masks"
    portrait.auto_mask = real_mask                           # the history's first mask: the same file
    portrait.fitted_mask = painted_over(real_mask, 14)
    write_session(tmp_path, None, "p1", [snapshot_portrait(portrait)])
    entry = manifest_entry(tmp_path)
    assert entry["auto_mask"] == entry["history"]["states"][0]["file"]
    assert len(list(masks.iterdir())) == len(portrait.timeline.states) + 1

    portrait.auto_mask = painted_over(real_mask, 13)
    write_session(tmp_path, None, "p1", [snapshot_portrait(portrait)])
    entry = manifest_entry(tmp_path)
    auto, fitted = tmp_path / entry["auto_mask"], tmp_path / entry["fitted_mask"]
    editsession._write_png(auto, np.full_like(real_mask, 40))          # not ids
    editsession._write_png(fitted, real_mask[:300])                    # the wrong shape
    restored = read_session(tmp_path)
    assert restored.portraits[0].auto_mask is None and restored.portraits[0].fitted_mask is None
    assert [n.split(" (")[0] for n in restored.notes] == ["real: automatic mask left out", "real: fitted mask left out"]
    assert f"{auto}: mask holds ids above 18" in restored.notes[0]
    assert f"{fitted}: the mask is 512x300 but the portrait's is 512x512" in restored.notes[1]
    assert len(restored.portraits[0].states) == len(portrait.timeline.states)

    portrait.auto_mask = portrait.fitted_mask = None
    write_session(tmp_path, None, "p1", [snapshot_portrait(portrait)])
    assert not auto.exists() and not fitted.exists()
    assert len(list(masks.iterdir())) == len(portrait.timeline.states)
    assert read_session(tmp_path).notes == []


def test_tuned_weights_round_trip_bit_exactly_and_a_bad_file_is_left_out(tmp_path, real_mask, demo_model):
    from models.invert.tuned_weights import TunedWeights, model_digest
    gen = demo_model.generator
    tuned = TunedWeights({name: p.detach() + 0.01 * torch.randn_like(p) for name, p in gen.named_parameters()
                          if name.startswith("siren.color_layer")}, {"model_digest": model_digest(gen)})
    portrait = edited_portrait(real_mask)
    portrait.set_tuned(tuned)
    write_session(tmp_path, None, "p1", [snapshot_portrait(portrait)])
    entry = manifest_entry(tmp_path)
    (again,) = restore_portraits(read_session(tmp_path), lambda crop, shape: crop)
    assert again.tuned.equal(tuned) and again.tuned.info == tuned.info
    first = tmp_path / entry["tuned"]

    portrait.set_tuned(TunedWeights({k: v * 2 for k, v in tuned.tensors.items()}, tuned.info))
    write_session(tmp_path, None, "p1", [snapshot_portrait(portrait)])
    second = tmp_path / manifest_entry(tmp_path)["tuned"]
    assert second != first and second.is_file() and not first.exists()      # the old tuning is dropped

    second.write_bytes(second.read_bytes()[:1000])                          # truncated
    restored = read_session(tmp_path)
    (note,) = restored.notes
    assert note.startswith("real: tuned weights left out") and str(second) in note
    assert restored.portraits[0].tuned is None and restored.portraits[0].codes is not None

    outside = tmp_path.parent / f"{tmp_path.name}_outside.ftune"
    (outside_entry := manifest_entry(tmp_path))["tuned"] = f"../{outside.name}"
    manifest = json.loads((tmp_path / "session.json").read_text())
    manifest["portraits"][0] = outside_entry
    (tmp_path / "session.json").write_text(json.dumps(manifest))
    restored = read_session(tmp_path)
    assert "must be a file inside the session folder" in restored.notes[0] and restored.portraits[0].tuned is None
