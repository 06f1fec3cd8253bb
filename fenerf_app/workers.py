"""Heavy jobs on QThreads: a generic worker with progress / partial / finished / failed signals
and a cancel flag.

    task = Task(fn, name="invert")      # fn(ctx) runs on a new QThread; ctx: JobContext
    task.partial.connect(...)           # every signal arrives on the thread that owns the Task
    task.start()
    task.cancel()                       # fn sees ctx.cancelled / ctx.check() raises Cancelled

Rules learnt the hard way (see shared/notes/dependencies.md): the worker's end quits its thread
through a direct connection (QThread.quit is thread-safe); a running Task is referenced by the
class (not parented to a widget that may be deleted first) until its thread has finished;
nothing here blocks the UI with QThread.wait() (only `wait_finished`, at exit).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, QThread, Qt, pyqtSignal, pyqtSlot

log = logging.getLogger(__name__)


def preload_heavy_modules() -> None:
    """Import on the calling (UI) thread what jobs would otherwise import lazily on a worker.

    Importing a large package runs module code that holds the GIL for long stretches: when
    torch.optim pulls in torch._dynamo (~1 s) on a worker thread, the UI thread stalls for
    hundreds of milliseconds. Paying it once at start-up keeps the event loop responsive.
    """
    import torch._dynamo  # noqa: F401


WORKER_NICENESS = 5


def lower_thread_priority(increment: int = WORKER_NICENESS) -> None:
    """Make the calling thread yield the CPU to the UI thread (Linux niceness is per thread;
    elsewhere this does nothing). Qt's thread priorities are ignored on Linux."""
    if not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + increment))
    except OSError:
        pass


class Cancelled(Exception):
    """Raised inside a job when it was asked to stop."""


class JobContext:
    """What a job function gets: the cancel flag and thread-safe ways to report."""

    def __init__(self, worker: "_Worker") -> None:
        self._worker = worker
        self._cancel = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def check(self) -> None:
        """Raise Cancelled if the job was asked to stop."""
        if self._cancel.is_set():
            raise Cancelled()

    def progress(self, done: int, total: int, text: str = "", check: bool = True) -> None:
        """Report progress; with `check` also raise Cancelled when asked to stop, so long loops end promptly."""
        self._worker.progress.emit(int(done), int(total), text)
        if check:
            self.check()

    def partial(self, value: Any) -> None:
        """Hand an intermediate result to the UI (a preview, a metrics record)."""
        self._worker.partial.emit(value)


class _Worker(QObject):
    progress = pyqtSignal(int, int, str)
    partial = pyqtSignal(object)
    finished = pyqtSignal(object)
    failed = pyqtSignal(object)
    cancelled = pyqtSignal()
    done = pyqtSignal()

    def __init__(self, fn: Callable[[JobContext], Any], name: str) -> None:
        super().__init__()
        self.fn = fn
        self.name = name
        self.context = JobContext(self)

    @pyqtSlot()
    def run(self) -> None:
        lower_thread_priority()
        started = time.perf_counter()
        try:
            result = self.fn(self.context)
        except Cancelled:
            log.info("%s: cancelled after %.2f s", self.name, time.perf_counter() - started)
            self.cancelled.emit()
        except BaseException as exc:        # reported to the UI as a dialog, never re-raised in a thread
            self.failed.emit(exc)
        else:
            log.debug("%s: finished in %.2f s", self.name, time.perf_counter() - started)
            self.finished.emit(result)
        finally:
            self.done.emit()


class Task(QObject):
    """One job on its own QThread. Signals (delivered on the Task's thread, i.e. the UI thread):
    progress(done, total, text), partial(value), finished(result), failed(exception), cancelled(),
    and ended() last in every case, once the thread has stopped."""

    progress = pyqtSignal(int, int, str)
    partial = pyqtSignal(object)
    finished = pyqtSignal(object)
    failed = pyqtSignal(object)
    cancelled = pyqtSignal()
    ended = pyqtSignal()

    _live: set["Task"] = set()           # running tasks stay referenced until their thread ends

    def __init__(self, fn: Callable[[JobContext], Any], name: str = "job") -> None:
        super().__init__()          # no parent: a deleted parent would drop the end-of-thread signal
        self.name = name
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._worker = _Worker(fn, name)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        for signal in ("progress", "partial", "finished", "failed", "cancelled"):
            getattr(self._worker, signal).connect(getattr(self, signal))
        self._thread.finished.connect(self._on_thread_finished)
        self._started = self._ended = False

    @property
    def running(self) -> bool:
        """True from start() until ended() is emitted."""
        return self._started and not self._ended

    @property
    def is_cancelled(self) -> bool:
        return self._worker.context.cancelled

    def start(self) -> "Task":
        if self._started:
            raise RuntimeError(f"task {self.name} was already started")
        self._started = True
        Task._live.add(self)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the job to stop; it ends with cancelled() at its next check."""
        self._worker.context.cancel()

    def _on_thread_finished(self) -> None:
        self._ended = True
        Task._live.discard(self)
        self.ended.emit()

    def wait_finished(self, timeout_s: float) -> bool:
        """Block until the thread stopped (only for shutdown, after cancel()); True if it did."""
        return self._thread.wait(int(timeout_s * 1000))

    @classmethod
    def running_tasks(cls) -> list["Task"]:
        return list(cls._live)
