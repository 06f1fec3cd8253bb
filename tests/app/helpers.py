"""Test helpers: waiting for session jobs without blocking the event loop, and a latency probe."""
from __future__ import annotations

import time

from PyQt6.QtCore import QObject, QTimer


def wait_task(qtbot, task, timeout_ms: int = 60_000) -> None:
    """Let the event loop run until a Task has ended (its results are applied by then)."""
    qtbot.waitUntil(lambda: not task.running, timeout=timeout_ms)


def wait_idle(qtbot, session, kind: str, timeout_ms: int = 60_000) -> None:
    qtbot.waitUntil(lambda: not session.busy(kind), timeout=timeout_ms)


class LatencyProbe(QObject):
    """A 10 ms timer on the UI thread recording the longest gap between its ticks."""

    def __init__(self, interval_ms: int = 10) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.last: float | None = None
        self.max_gap_ms = 0.0
        self.ticks = 0

    def start(self) -> "LatencyProbe":
        self.last = time.perf_counter()
        self.timer.start()
        return self

    def stop(self) -> float:
        self.timer.stop()
        return self.max_gap_ms

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.max_gap_ms = max(self.max_gap_ms, (now - self.last) * 1000)
        self.last = now
        self.ticks += 1
