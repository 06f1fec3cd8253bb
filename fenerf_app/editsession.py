"""Edit-session folders: everything needed to reopen the work, autosaved atomically.

    SESSION/session.json           format, version, model, current portrait, one entry per portrait
    SESSION/<id>/photo<.ext>       the photo file as opened (bytes copied, never re-encoded)
    SESSION/<id>/crop.png          the aligned crop (the inversion target)
    SESSION/<id>/masks/<key>.png   every mask of the undo/redo history, the photo's automatic mask
                                   and the mask the codes were fitted to (ID PNGs named by content,
                                   so a mask that is both is one file)
    SESSION/<id>/codes.npz         current and reset codes (float32)
    SESSION/<id>/tuned-<key>.ftune the portrait's tuned generator weights, when it was tuned (named by
                                   content: written once per tuning, validated like a checkpoint)

Every file is written to a temporary name in its folder and renamed; session.json is written
last, so a crash at any moment leaves the previous consistent session or the new one. The
autosaver writes a few seconds after a change at most, on a worker thread. The automatic and
fitted masks and the tuned weights are optional on reading: a bad one is left out with a note, the
rest restores.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from fenerf_app.portrait import MaskState, Portrait
from fenerf_app.workers import Task
from models.field.codes import Codes
from models.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from models.labels import LabelError, validate_ids

FORMAT = "fenerf-studio-session"
VERSION = 1
TUNED_PREFIX = "tuned-"
MANIFEST = "session.json"


class SessionError(ValueError):
    """A session folder that cannot be read (names the file and the reason)."""


# -- writing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortraitSnapshot:
    """What is written for one portrait (taken on the UI thread, written on a worker)."""

    id: str
    name: str
    source: str | None
    crop: np.ndarray | None
    transform: dict | None
    states: tuple[MaskState, ...]
    position: int
    codes: dict[str, np.ndarray] | None
    psi: float
    settings: dict
    auto_mask: np.ndarray | None
    fitted_mask: np.ndarray | None
    tuned: object | None = None          # TunedWeights (never changed in place: a new tuning makes a new one)


def _mask_copy(mask: np.ndarray | None) -> np.ndarray | None:
    return None if mask is None else np.array(mask, dtype=np.uint8, order="C")


def snapshot_portrait(portrait: Portrait) -> PortraitSnapshot:
    """Copy what the autosave needs; cheap (mask states are already compressed)."""
    arrays = None
    if portrait.codes is not None:
        arrays = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in portrait.codes.to_dict().items()}
        if portrait.start_codes is not None:
            arrays |= {f"start_{k}": v.detach().cpu().numpy().astype(np.float32)
                       for k, v in portrait.start_codes.to_dict().items()}
    timeline = portrait.timeline
    return PortraitSnapshot(portrait.id, portrait.name, None if portrait.source is None else str(portrait.source),
                            portrait.crop, portrait.transform, tuple(timeline.states), timeline.position, arrays,
                            float(portrait.psi), dict(portrait.settings), _mask_copy(portrait.auto_mask),
                            _mask_copy(portrait.fitted_mask), portrait.tuned)


def _write_png(path: Path, array: np.ndarray) -> None:
    """PNG through OpenCV, which encodes without holding the GIL (PIL holds it: the UI would stall)."""
    array = np.ascontiguousarray(array[..., ::-1] if array.ndim == 3 else array)
    ok, data = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise OSError(f"{path}: cannot encode the image as PNG")
    atomic_write_bytes(path, data.tobytes())


def _mask_file(folder: Path, home: Path, key: str, array: Callable[[], np.ndarray]) -> str:
    """Write a mask under its content key unless that file exists; its path in the manifest."""
    path = home / "masks" / f"{key}.png"
    if not path.exists():
        _write_png(path, array())
    return path.relative_to(folder).as_posix()


def _tuned_file(folder: Path, home: Path, tuned) -> str:
    """Write tuned weights under a content key unless that file exists; its path in the manifest."""
    from models.invert.tuned_weights import SUFFIX, save_tuned
    digest = hashlib.sha1()
    for name, tensor in tuned.tensors.items():
        digest.update(name.encode())
        digest.update(tensor.contiguous().numpy().tobytes())
    path = home / f"{TUNED_PREFIX}{digest.hexdigest()[:16]}{SUFFIX}"
    if not path.exists():
        save_tuned(path, tuned)
    return path.relative_to(folder).as_posix()


def _write_portrait(folder: Path, snap: PortraitSnapshot) -> dict:
    """Write a portrait's files (only those missing or changed) and return its manifest entry."""
    home = folder / snap.id
    (home / "masks").mkdir(parents=True, exist_ok=True)
    entry: dict = {"id": snap.id, "name": snap.name, "source": snap.source, "photo": None, "crop": None,
                   "transform": snap.transform, "psi": snap.psi, "settings": snap.settings, "codes": None}
    if snap.source is not None:
        source = Path(snap.source)
        photo = home / f"photo{source.suffix.lower()}"
        if not photo.exists() and source.is_file():
            atomic_write_bytes(photo, source.read_bytes())
        entry["photo"] = photo.relative_to(folder).as_posix() if photo.exists() else None
    if snap.crop is not None:
        crop = home / "crop.png"
        if not crop.exists():
            _write_png(crop, snap.crop)
        entry["crop"] = crop.relative_to(folder).as_posix()
    states = [{"file": _mask_file(folder, home, s.key, s.array), "description": s.description}
              for s in snap.states]
    entry["history"] = {"states": states, "position": snap.position}
    for name, mask in (("auto_mask", snap.auto_mask), ("fitted_mask", snap.fitted_mask)):
        entry[name] = None if mask is None else _mask_file(folder, home, MaskState.of(mask, name).key,
                                                           lambda mask=mask: mask)
    entry["tuned"] = None if snap.tuned is None else _tuned_file(folder, home, snap.tuned)
    if snap.codes is not None:
        codes = home / "codes.npz"
        with atomic_path(codes) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **snap.codes)
        entry["codes"] = codes.relative_to(folder).as_posix()
    return entry


def write_session(folder: Path, model: str | None, current: str | None,
                  portraits: list[PortraitSnapshot]) -> Path:
    """Write a whole session atomically (manifest last) and drop files nothing refers to."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = [_write_portrait(folder, snap) for snap in portraits]
    manifest = {"format": FORMAT, "version": VERSION, "saved": time.time(), "model": model,
                "current": current, "portraits": entries}
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=1))
    _collect_garbage(folder, entries)
    return folder / MANIFEST


def _collect_garbage(folder: Path, entries: list[dict]) -> None:
    kept = {e["id"] for e in entries}
    used = {s["file"] for e in entries for s in e["history"]["states"]}
    used |= {e[name] for e in entries for name in ("auto_mask", "fitted_mask") if e[name]}
    for child in folder.iterdir():
        if child.is_dir() and child.name not in kept and (child / "masks").is_dir():
            shutil.rmtree(child, ignore_errors=True)
    used |= {e["tuned"] for e in entries if e.get("tuned")}
    for entry in entries:
        home = folder / entry["id"]
        for path in [*(home / "masks").glob("*.png"), *home.glob(f"{TUNED_PREFIX}*.ftune")]:
            if path.relative_to(folder).as_posix() not in used:
                path.unlink(missing_ok=True)


# -- reading ---------------------------------------------------------------------------------
@dataclass
class RestoredPortrait:
    id: str
    name: str
    source: Path | None
    crop: np.ndarray | None
    transform: dict | None
    states: list[MaskState]
    position: int
    codes: Codes | None
    start_codes: Codes | None
    psi: float
    settings: dict
    auto_mask: np.ndarray | None
    fitted_mask: np.ndarray | None
    tuned: object | None = None


@dataclass
class RestoredSession:
    folder: Path
    model: str | None
    current: str | None
    portraits: list[RestoredPortrait]
    notes: list[str]                 # what was left out, one line each (for the status bar)


def _read_image(folder: Path, relative: str, mask: bool) -> np.ndarray:
    path = folder / relative
    try:
        with Image.open(path) as image:
            array = np.asarray(image if mask else image.convert("RGB")).copy()
    except FileNotFoundError:
        raise SessionError(f"{path}: missing from the session folder") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise SessionError(f"{path}: unreadable ({exc})") from None
    if mask:
        try:
            return validate_ids(array)
        except LabelError as exc:
            raise SessionError(f"{path}: {exc}") from None
    return array


def _read_optional_mask(folder: Path, relative: str | None, shape: tuple[int, int],
                        label: str, notes: list[str]) -> np.ndarray | None:
    """A mask the portrait can do without: None, with a note in `notes`, when it is missing or bad."""
    if not relative:
        return None
    try:
        mask = _read_image(folder, relative, True)
        if mask.shape != shape:
            raise SessionError(f"{folder / relative}: the mask is {mask.shape[1]}x{mask.shape[0]} but the "
                               f"portrait's is {shape[1]}x{shape[0]}")
    except SessionError as exc:
        notes.append(f"{label} left out ({exc})")
        return None
    return mask


def _read_optional_tuned(folder: Path, relative: str | None, label: str, notes: list[str]):
    """Tuned weights the portrait can do without: None, with a note, when the entry or the file is bad
    (checked like a checkpoint: names, shapes, dtype, finite values, size; never unpickled)."""
    if not relative:
        return None
    from models.invert.tuned_weights import load_tuned
    from models.io.errors import CheckpointError
    path = folder / str(relative)
    try:
        if Path(str(relative)).is_absolute() or ".." in Path(str(relative)).parts \
                or not path.resolve().is_relative_to(folder.resolve()):
            raise SessionError(f"{relative!r}: tuned weights must be a file inside the session folder")
        return load_tuned(path)
    except (SessionError, CheckpointError) as exc:
        notes.append(f"{label} left out ({exc})")
        return None


def _read_codes(path: Path) -> tuple[Codes | None, Codes | None]:
    try:
        with np.load(path) as data:
            arrays = {k: torch.from_numpy(data[k].copy()) for k in data.files}
    except (OSError, ValueError) as exc:
        raise SessionError(f"{path}: unreadable codes ({exc})") from None
    try:
        codes = Codes.from_dict(arrays)
    except KeyError as exc:
        raise SessionError(f"{path}: missing code array {exc}") from None
    start = {k[len("start_"):]: v for k, v in arrays.items() if k.startswith("start_")}
    return codes, (Codes.from_dict(start) if len(start) == 4 else None)


def read_session(folder: str | Path) -> RestoredSession:
    """Read a session folder written by `write_session`; SessionError names what is wrong."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SessionError(f"{folder}: not an edit session (no {MANIFEST})") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SessionError(f"{manifest_path}: unreadable ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SessionError(f"{manifest_path}: not a FENeRF Studio session file")
    if manifest.get("version") != VERSION:
        raise SessionError(f"{manifest_path}: session version {manifest.get('version')} is not supported "
                           f"(this app reads version {VERSION})")
    portraits, notes = [], []
    try:
        for entry in manifest["portraits"]:
            history = entry["history"]
            states = [MaskState.of(_read_image(folder, s["file"], True), s["description"]) for s in history["states"]]
            if not states:
                raise SessionError(f"{manifest_path}: portrait {entry['id']} has no mask history")
            name = str(entry["name"])
            auto = _read_optional_mask(folder, entry.get("auto_mask"), states[0].shape,
                                       f"{name}: automatic mask", notes)
            fitted = _read_optional_mask(folder, entry.get("fitted_mask"), states[0].shape,
                                         f"{name}: fitted mask", notes)
            codes, start = _read_codes(folder / entry["codes"]) if entry.get("codes") else (None, None)
            crop = _read_image(folder, entry["crop"], False) if entry.get("crop") else None
            photo = folder / entry["photo"] if entry.get("photo") else None
            source = photo if photo is not None and photo.exists() else (
                Path(entry["source"]) if entry.get("source") else None)
            portraits.append(RestoredPortrait(str(entry["id"]), name, source, crop, entry.get("transform"),
                                              states, int(history["position"]), codes, start,
                                              float(entry.get("psi", 1.0)), dict(entry.get("settings") or {}),
                                              auto, fitted,
                                              _read_optional_tuned(folder, entry.get("tuned"),
                                                                   f"{name}: tuned weights", notes)))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, SessionError):
            raise
        raise SessionError(f"{manifest_path}: malformed entry ({type(exc).__name__}: {exc})") from None
    return RestoredSession(folder, manifest.get("model"), manifest.get("current"), portraits, notes)


# -- autosave --------------------------------------------------------------------------------
class Autosaver(QObject):
    """Writes the session a moment after it changes (at most `delay_ms` later), one write at a time.

    `state()` is called on the UI thread and returns (folder, model, current, snapshots, version);
    nothing is written while the version equals the last written one.
    """

    saved = pyqtSignal(str)          # the manifest path
    failed = pyqtSignal(str)         # one-line reason

    def __init__(self, state, delay_ms: int = 1500, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = state
        self._timer = QTimer(self)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.save_now)
        self._written: object = None
        self._task: Task | None = None
        self.enabled = True

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @property
    def busy(self) -> bool:
        return self._task is not None and self._task.running

    def tasks(self) -> list[Task]:
        """The write in progress, if any."""
        return [self._task] if self.busy else []

    def save_now(self) -> Task | None:
        """Start a write if something changed and no write is running; returns its task."""
        if not self.enabled or self.busy:
            return None
        folder, model, current, snapshots, version = self._state()
        if folder is None or version == self._written:
            return None
        task = Task(lambda ctx: write_session(folder, model, current, snapshots), "autosave")
        task.finished.connect(lambda path, v=version: self._done(v, path))
        task.failed.connect(lambda exc: self.failed.emit(str(exc)))
        self._task = task
        return task.start()

    def _done(self, version: object, path: Path) -> None:
        self._written = version
        self.saved.emit(str(path))

    def forget(self) -> None:
        """Consider nothing written (after switching to another folder)."""
        self._written = None
