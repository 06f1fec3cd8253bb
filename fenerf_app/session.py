"""The session layer: the only thing screens call.

`StudioSession` owns the model, the open portraits, the running jobs (one per kind, each on a
QThread), cancellation and the autosaved edit-session folder. Screens call its methods and
listen to its signals; a method that cannot do what was asked raises an exception with a
one-line message (shown as a dialog by the window), and a job that fails emits `errorRaised`.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal

from fenerf_app import jobs
from fenerf_app.codeops import CodeOperations
from fenerf_app.editsession import Autosaver, read_session, snapshot_portrait
from fenerf_app.errors import UserError, data_dir, report
from fenerf_app.outputs import Outputs
from fenerf_app.portrait import MaskTimeline, Portrait
from fenerf_app.workers import Task, preload_heavy_modules
from models.field.codes import Codes


class StudioSession(CodeOperations, Outputs, QObject):
    """Model, portraits, jobs and autosave of one app window."""

    modelChanged = pyqtSignal(object)              # LoadedModel
    portraitsChanged = pyqtSignal()                # a portrait was added, removed or renamed
    currentChanged = pyqtSignal(object)            # Portrait | None
    codesChanged = pyqtSignal(object)              # Portrait whose codes / psi changed
    taskStarted = pyqtSignal(str, str)             # kind, what it does
    taskProgress = pyqtSignal(str, int, int, str)  # kind, done, total, text
    taskEnded = pyqtSignal(str, str)               # kind, "finished" | "cancelled" | "failed"
    inversionRecord = pyqtSignal(object, object)   # Portrait, StepRecord
    trainingMetrics = pyqtSignal(object)           # one step's metrics dict
    errorRaised = pyqtSignal(str, str)             # title, message
    notice = pyqtSignal(str)                       # a status-bar message

    def __init__(self, parent: QObject | None = None, session_root: Path | None = None,
                 autosave_ms: int = 1500) -> None:
        super().__init__(parent)
        preload_heavy_modules()
        self.model = None
        self.portraits: dict[str, Portrait] = {}
        self.current: Portrait | None = None
        self.tasks: dict[str, Task] = {}
        self.training_control: jobs.TrainingControl | None = None
        self._counter = 0
        self._session_root = session_root or data_dir() / "sessions"
        self.folder: Path | None = None
        self.autosaver = Autosaver(self._autosave_state, autosave_ms, self)
        self.autosaver.failed.connect(lambda message: self.errorRaised.emit("Autosave failed", message))

    @property
    def session_root(self) -> Path:
        """Where new session folders are created."""
        return self._session_root

    # -- jobs --------------------------------------------------------------------------------
    def busy(self, kind: str | None = None) -> bool:
        """True while a job of `kind` (any job when None) runs."""
        if kind is None:
            return any(task.running for task in self.tasks.values())
        task = self.tasks.get(kind)
        return task is not None and task.running

    def run_job(self, kind: str, description: str, fn: Callable, on_result: Callable | None = None,
                title: str = "") -> Task:
        """Run `fn(ctx)` on a worker thread; `on_result(result)` runs on the UI thread after it."""
        if self.busy(kind):
            raise UserError(f"{description}: a {kind} job is already running; wait for it or cancel it")
        task = Task(fn, kind)
        title = title or description
        task.progress.connect(lambda done, total, text: self.taskProgress.emit(kind, done, total, text))
        outcome = {"state": "finished"}

        def finished(result) -> None:
            if on_result is None:
                return
            try:
                on_result(result)
            except Exception as exc:            # a result the session cannot use: a dialog, not a crash
                outcome["state"] = "failed"
                self.errorRaised.emit(title, report(exc, title))

        def failed(exc: BaseException) -> None:
            outcome["state"] = "failed"
            self.errorRaised.emit(title, report(exc, title))

        task.finished.connect(finished)
        task.failed.connect(failed)
        task.cancelled.connect(lambda: outcome.update(state="cancelled"))
        task.ended.connect(lambda: self._ended(kind, task, outcome["state"]))
        self.tasks[kind] = task
        task.start()
        self.taskStarted.emit(kind, description)
        return task

    def _ended(self, kind: str, task: Task, state: str) -> None:
        if self.tasks.get(kind) is task:
            del self.tasks[kind]
        self.taskEnded.emit(kind, state)

    def cancel(self, kind: str) -> None:
        """Ask a running job to stop (no-op when none runs)."""
        task = self.tasks.get(kind)
        if task is not None:
            task.cancel()
        if kind == "train" and self.training_control is not None:
            self.training_control.stop()

    def shutdown(self, timeout_s: float = 20.0) -> None:
        """Stop this session's jobs, wait for their threads (a training run saves a checkpoint
        first), write the session a last time. At exit only: it blocks."""
        self.autosaver.stop()
        tasks = [*self.tasks.values(), *self.autosaver.tasks()]
        for kind in list(self.tasks):
            self.cancel(kind)
        deadline = time.monotonic() + timeout_s
        for task in tasks:
            task.wait_finished(max(0.0, deadline - time.monotonic()))
        self.save_now(blocking=True)

    # -- model -------------------------------------------------------------------------------
    def open_model(self, path: str | Path | None = None) -> Task:
        """Load a model (None: the default one: $FENERF_CHECKPOINT, then checkpoints/)."""
        return self.run_job("model", "Opening the model", lambda ctx: jobs.load_model_job(path, ctx),
                            self.use_model, "Cannot open the model")

    def use_model(self, model) -> None:
        """Make a loaded model (`models.io.model.LoadedModel`) the current one."""
        model.generator.average_codes()          # cached; computed by the loading job already
        self.model = model
        for portrait in self.portraits.values():
            portrait.tuned_generator = None
            if portrait.codes is not None and not self._codes_fit(portrait.codes):
                portrait.set_codes(None, reset_point=True)
                portrait.set_tuned(None)
                portrait.inversion = None
                self.notice.emit(f"{portrait.name}: its codes belong to another model; invert it again")
        self.modelChanged.emit(model)
        self.notice.emit(f"Model {model.name} ({model.kind}) loaded")
        if self.current is not None:
            self.codesChanged.emit(self.current)

    def _codes_fit(self, codes: Codes) -> bool:
        cfg = self.model.generator.cfg
        return codes.geo_freq.shape[-1] == cfg.geo_code_dim and codes.app_freq.shape[-1] == cfg.app_code_dim

    def require_model(self):
        if self.model is None:
            raise UserError("no model is loaded yet: wait for it, or choose File > Open model")
        return self.model

    def average_codes(self) -> Codes:
        return self.require_model().generator.average_codes()

    def generator_for(self, portrait: Portrait):
        """The generator a portrait renders with: the model's, or a copy carrying the portrait's tuned
        weights (made once). Tuned weights that do not fit the model are dropped with a notice."""
        gen = self.require_model().generator
        if portrait.tuned is None:
            return gen
        if portrait.tuned_generator is None:
            try:
                portrait.tuned_generator = portrait.tuned.applied(gen)
            except ValueError as exc:
                portrait.set_tuned(None)
                self.notice.emit(f"{portrait.name}: tuned weights left out ({exc}); showing the untuned model")
                return gen
        return portrait.tuned_generator

    # -- portraits ---------------------------------------------------------------------------
    def require_portrait(self) -> Portrait:
        if self.current is None:
            raise UserError("open a photo or create a random portrait first")
        return self.current

    def _next_id(self) -> str:
        self._counter += 1
        while f"p{self._counter}" in self.portraits:
            self._counter += 1
        return f"p{self._counter}"

    def add_portrait(self, new: jobs.NewPortrait) -> Portrait:
        """Make a portrait of a job's result, open it and make it current."""
        from painter.document import LabelDocument
        document = LabelDocument(new.mask, self._fit_photo(new.crop, new.mask.shape))
        portrait = Portrait(self._next_id(), new.name, MaskTimeline(document), crop=new.crop,
                            source=new.source, transform=new.transform)
        portrait.auto_mask = new.auto_mask
        if new.codes is not None:
            portrait.set_codes(new.codes, reset_point=True)
        self.portraits[portrait.id] = portrait
        self.ensure_folder()
        self.portraitsChanged.emit()
        self.set_current(portrait.id)
        for note in new.notes:
            self.notice.emit(f"{portrait.name}: {note}")
        return portrait

    @staticmethod
    def _fit_photo(crop, shape):
        from painter.maskio import fit_photo
        return None if crop is None else fit_photo(crop, shape)

    def set_current(self, portrait_id: str | None) -> None:
        portrait = None if portrait_id is None else self.portraits[portrait_id]
        if portrait is not self.current:
            self.current = portrait
            self.currentChanged.emit(portrait)

    def close_portrait(self, portrait_id: str) -> None:
        portrait = self.portraits.pop(portrait_id)
        portrait.timeline.detach()
        if self.current is portrait:
            self.set_current(next(iter(self.portraits), None))
        self.portraitsChanged.emit()

    def new_random_portrait(self, seed: int | None = None) -> Task:
        """A portrait from random codes (truncated by the model's psi) with its rendered mask."""
        model = self.require_model()
        seed = int(time.time() * 1000) % 100_000 if seed is None else int(seed)
        psi = float(model.render_defaults.get("psi", 0.7))
        return self.run_job("portrait", f"Creating portrait from seed {seed}",
                            lambda ctx: jobs.random_portrait_job(model.generator, seed, psi, model.render_defaults, ctx),
                            self.add_portrait, "Cannot create the portrait")

    def open_photo(self, path: str | Path, face_index: int = 0) -> Task:
        """Read a photo, align its face to the model's framing and parse an automatic mask."""
        model = self.require_model()
        path = Path(path)
        return self.run_job("portrait", f"Opening {path.name}",
                            lambda ctx: jobs.intake_job(path, model.framing, face_index, ctx),
                            self.add_portrait, f"Cannot open {path.name}")

    # -- masks -------------------------------------------------------------------------------
    def load_mask_file(self, path: str | Path, frame: str = "auto") -> None:
        """Replace the current mask by a file (one undo step). `frame` says what the mask covers:
        "photo" (the whole photo, at any scale: cropped like the photo), "crop" (the portrait's
        square), "auto" (the photo when the portrait came from one)."""
        from painter.maskio import load_mask
        portrait = self.require_portrait()
        if frame not in ("auto", "photo", "crop"):
            raise ValueError(f"unknown mask frame {frame!r}; use auto, photo or crop")
        ids = load_mask(path).ids
        if frame == "photo" or (frame == "auto" and portrait.transform is not None):
            if portrait.transform is None:
                raise UserError(f"{portrait.name} did not come from a photo: open the mask as a crop mask")
            ids = jobs.photo_mask_to_crop(ids, portrait.transform)
        portrait.document.replace_mask(ids, f"mask from {Path(path).name}")

    def auto_mask(self) -> None:
        """Go back to the automatic mask of the photo (one undo step)."""
        portrait = self.require_portrait()
        if portrait.auto_mask is None:
            raise UserError(f"{portrait.name}: no automatic mask (it did not come from a photo, or its saved "
                            "copy could not be read)")
        portrait.document.replace_mask(portrait.auto_mask, "automatic mask")

    def paint_over_render(self, mask, yaw: float, pitch: float) -> None:
        """Use a rendered mask (the 3D view's) as the mask to paint on (one undo step)."""
        portrait = self.require_portrait()
        portrait.document.replace_mask(mask, "rendered mask")
        portrait.settings["mask_view"] = [float(yaw), float(pitch)]
        portrait.touch()

    # -- inversion ---------------------------------------------------------------------------
    def invert(self, settings, geometry_only: bool = False, tune=None) -> Task:
        """Fit the current portrait's codes to its crop and mask (`geometry_only`: the edit pass,
        moving only the geometry towards the painted mask from the current codes, with the portrait's
        tuned weights if it has some). `tune` (TuneSettings or a preset name; reconstruction only)
        then tunes the generator around the fitted codes; None keeps the official codes-only result."""
        model = self.require_model()
        portrait = self.require_portrait()
        if isinstance(settings, str):
            settings = jobs.optional("models.invert.presets", "inversion").preset(settings)
        if isinstance(tune, str):
            tune = jobs.optional("models.invert.tune_settings", "tuning").tune_preset(tune)
        tune = None if geometry_only else tune
        generator = self.generator_for(portrait) if geometry_only else model.generator
        start = self._start_codes(portrait) if geometry_only else None
        if geometry_only and start is None:
            raise UserError(f"{portrait.name}: invert it first; the geometry re-inversion starts from its codes")
        ids = portrait.document.mask.copy()
        crop = portrait.crop
        fitted = portrait.fitted_mask if geometry_only else None
        name = "Re-inverting the geometry" if geometry_only else "Inverting"

        def job(ctx):
            inversion, note = jobs.make_inversion(generator, model.render_defaults, crop, ids, settings,
                                                  start, geometry_only, ctx, fitted)
            if note:
                ctx.partial(note)
            outcome = jobs.inversion_job(inversion, ctx, start, fitted, ids if geometry_only else None)
            if tune is not None and not ctx.cancelled:
                outcome.tuned = jobs.tuning_job(model.generator, model.render_defaults, crop, ids, outcome.best,
                                                tune, ctx)
            return outcome

        task = self.run_job("invert", f"{name} {portrait.name}", job,
                            lambda outcome: self._inverted(portrait, outcome, ids, geometry_only), f"{name} failed")
        task.partial.connect(lambda value: self._inversion_partial(portrait, value))
        portrait.settings["inversion"] = {"preset": settings.to_dict(), "geometry_only": geometry_only,
                                          "tune": None if tune is None else tune.to_dict()}
        return task

    def _start_codes(self, portrait: Portrait):
        """Where a geometry re-inversion starts: the last inversion, else the codes shown."""
        if portrait.inversion is not None and portrait.psi == 1.0:
            return portrait.inversion
        if portrait.codes is None:
            return None
        codes_module = jobs.optional("models.invert.session_codes", "inversion")
        return codes_module.PortraitCodes.start(portrait.effective_codes(self.average_codes()),
                                                {"start": "portrait codes"})

    def _inversion_partial(self, portrait: Portrait, value) -> None:
        if isinstance(value, str):
            self.notice.emit(value)
        else:
            self.inversionRecord.emit(portrait, value)

    def _inverted(self, portrait: Portrait, outcome: jobs.InversionOutcome, ids, geometry_only: bool) -> None:
        best = outcome.best
        portrait.inversion = best
        portrait.psi = 1.0
        portrait.set_codes(best.effective, reset_point=True)
        if not geometry_only:
            portrait.set_tuned(outcome.tuned)
        portrait.fitted_mask = ids
        info = best.info
        what = "geometry re-inverted" if geometry_only else "inverted"
        score = f" (mIoU {info['miou']:.3f} at iteration {info.get('iteration')})" if "miou" in info else ""
        if outcome.tuned is not None:
            t = outcome.tuned.info
            score += (f"; tuned: foreground PSNR {t.get('psnr', float('nan')):.2f} dB, "
                      f"mIoU {t.get('miou', float('nan')):.3f}")
        report = "" if outcome.edit_report is None else "; " + "; ".join(outcome.edit_report.lines())
        self.notice.emit(f"{portrait.name} {what}{score}{report}")
        self.codesChanged.emit(portrait)

    # -- session folder ----------------------------------------------------------------------
    def ensure_folder(self) -> Path:
        """The autosave folder, created on first need under the user's data folder."""
        if self.folder is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            folder = self._session_root / stamp
            suffix = 1
            while folder.exists():
                suffix += 1
                folder = self._session_root / f"{stamp}-{suffix}"
            self.use_folder(folder)
        return self.folder

    def use_folder(self, folder: Path) -> None:
        """Autosave into `folder` from now on (written within a moment)."""
        self.folder = Path(folder)
        self.autosaver.forget()
        self.autosaver.start()
        self.notice.emit(f"Autosaving to {self.folder}")

    def _autosave_state(self):
        version = (tuple((p.id, p.version, p.psi, p.timeline.version, p.name) for p in self.portraits.values()),
                   None if self.current is None else self.current.id,
                   None if self.model is None else str(self.model.path))
        snapshots = [snapshot_portrait(p) for p in self.portraits.values()] if self.folder is not None else []
        return self.folder, version[2], version[1], snapshots, version

    def save_now(self, blocking: bool = False) -> None:
        """Write the session now (blocking: on this thread, for the last save at exit)."""
        if blocking:
            from fenerf_app.editsession import write_session
            folder, model, current, snapshots, _ = self._autosave_state()
            if folder is not None and self.portraits:
                write_session(folder, model, current, snapshots)
        else:
            self.autosaver.save_now()

    def save_as(self, folder: str | Path) -> None:
        """Continue the session in another folder (written at once)."""
        folder = Path(folder)
        if (folder / "session.json").exists() or (folder.exists() and any(folder.iterdir())):
            raise UserError(f"{folder}: choose an empty or new folder for the session")
        self.use_folder(folder)
        self.save_now()

    def open_folder(self, folder: str | Path) -> None:
        """Reopen a session folder: its portraits with mask history, codes and settings."""
        restored = read_session(folder)
        from fenerf_app.sessionrestore import restore_portraits
        for portrait_id in list(self.portraits):
            self.close_portrait(portrait_id)
        for portrait in restore_portraits(restored, self._fit_photo):
            if portrait.codes is not None and self.model is not None and not self._codes_fit(portrait.codes):
                self.notice.emit(f"{portrait.name}: its codes belong to another model ({restored.model})")
                portrait.set_codes(None, reset_point=True)
            self.portraits[portrait.id] = portrait
        for note in restored.notes:
            self.notice.emit(note)
        self.use_folder(restored.folder)
        self.portraitsChanged.emit()
        current = restored.current if restored.current in self.portraits else next(iter(self.portraits), None)
        self.current = None
        self.set_current(current)
        self.notice.emit(f"Reopened {restored.folder} ({len(self.portraits)} portraits)")
