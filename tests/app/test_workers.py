"""The generic worker: results, partial values, progress, failures and cancellation, all
delivered on the UI thread."""
import threading
import time

import pytest

from fenerf_app.workers import Cancelled, Task
from tests.app.helpers import wait_task


def collect(task: Task) -> dict:
    seen = {"progress": [], "partial": [], "finished": [], "failed": [], "cancelled": 0, "order": [],
            "threads": set()}
    task.progress.connect(lambda d, t, s: seen["progress"].append((d, t, s)))
    task.partial.connect(lambda v: seen["partial"].append(v))
    task.finished.connect(lambda v: (seen["finished"].append(v), seen["order"].append("finished")))
    task.failed.connect(lambda e: (seen["failed"].append(e), seen["order"].append("failed")))
    task.cancelled.connect(lambda: (seen.__setitem__("cancelled", seen["cancelled"] + 1),
                                    seen["order"].append("cancelled")))
    task.ended.connect(lambda: (seen["order"].append("ended"), seen["threads"].add(threading.get_ident())))
    return seen


def test_a_job_runs_off_the_ui_thread_and_reports_on_it(qtbot):
    ui_thread = threading.get_ident()
    ran_on = []

    def job(ctx):
        ran_on.append(threading.get_ident())
        for i in range(3):
            ctx.progress(i + 1, 3, f"step {i + 1}")
            ctx.partial(i * i)
        return "done"

    task = Task(job, "test")
    seen = collect(task)
    task.start()
    wait_task(qtbot, task)
    assert ran_on and ran_on[0] != ui_thread
    assert seen["progress"] == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]
    assert seen["partial"] == [0, 1, 4]
    assert seen["finished"] == ["done"] and seen["order"] == ["finished", "ended"]
    assert seen["threads"] == {ui_thread}
    assert not task.running and task not in Task.running_tasks()


def test_a_failure_arrives_as_the_exception(qtbot):
    task = Task(lambda ctx: int("not a number"), "bad")
    seen = collect(task)
    task.start()
    wait_task(qtbot, task)
    assert isinstance(seen["failed"][0], ValueError) and "not a number" in str(seen["failed"][0])
    assert seen["order"] == ["failed", "ended"]


def test_cancel_stops_a_long_job_at_its_next_check(qtbot):
    started = threading.Event()

    def job(ctx):
        started.set()
        for i in range(10_000):
            time.sleep(0.001)
            ctx.progress(i, 10_000)
        return "never"

    task = Task(job, "long")
    seen = collect(task)
    task.start()
    qtbot.waitUntil(started.is_set)
    task.cancel()
    wait_task(qtbot, task, 5000)
    assert seen["cancelled"] == 1 and seen["finished"] == [] and seen["order"][-1] == "ended"
    assert task.is_cancelled


def test_a_task_cannot_start_twice(qtbot):
    task = Task(lambda ctx: None, "once").start()
    with pytest.raises(RuntimeError, match="already started"):
        task.start()
    wait_task(qtbot, task)


def test_check_raises_cancelled_only_after_cancel(qtbot):
    outcomes = []

    def job(ctx):
        ctx.check()
        outcomes.append("passed")
        ctx.cancel()
        try:
            ctx.check()
        except Cancelled:
            outcomes.append("cancelled")
            raise

    task = Task(job, "check")
    seen = collect(task)
    task.start()
    wait_task(qtbot, task)
    assert outcomes == ["passed", "cancelled"] and seen["cancelled"] == 1
