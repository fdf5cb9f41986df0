"""A grading worker: the process side of grader.run.pool.

Started once per run, it asks to die with its parent, caps its address space (RLIMIT_AS),
loads the graders once, then grades whole submissions through `AssignmentGrader.grade` with
three hooks: the `Deadline` guard (each part's CPU budget as a timer that ends the process,
its index and wall-clock deadline in memory shared with the parent, which kills a late
worker), an `on_part` that sends results in batches (at least every FLUSH_INTERVAL, and with
the finished report; one message per part would cost more than most parts), and the verdict
cache. A task resumed after a kill carries the `GradingState` the parent received so far.
"""

from __future__ import annotations

import importlib
import os
import resource
import signal
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from grader.keys.variants import VariantGraders
from grader.models import PartResult, Submission
from grader.run.cache import ABSENT, Verdicts
from grader.run.guard import CPU_SIGNAL, Deadline
from grader.run.lifetime import die_with_parent
from grader.scoring import AssignmentGrader, GradingContext, GradingState

# Results reach the parent at least this often. One message per part would cost more than
# most parts (a cache hit is ~20 µs); a kill re-grades at most this much finished work.
FLUSH_INTERVAL = 0.05

Loader = Callable[[], Mapping[str, "AssignmentGrader | VariantGraders"]]
#: A finished part as sent to the parent: (index, result, what it left for follow-through).
Record = tuple[int, PartResult, Any]


@dataclass
class Task:
    """A submission to grade, from where `state` says (a fresh state for a new submission)."""

    sub: Submission
    state: GradingState = field(default_factory=GradingState)


class Worker:
    """Grades tasks inside a worker process and reports back over `conn`."""

    def __init__(self, graders: Mapping[str, "AssignmentGrader | VariantGraders"], conn: Connection, deadline: Deadline, cache: bool) -> None:
        self.graders = graders
        self.conn = conn
        self.deadline = deadline
        self.verdicts = Verdicts() if cache else None
        for grader in graders.values():
            # a problem set (and torch) imported for follow-through or a hint is set-up, not the part's time
            grader.source.setup = deadline.setup

    def run(self, task: Task) -> None:
        sub = task.sub
        grader = self.graders.get(sub.assignment)
        if isinstance(grader, VariantGraders):  # per-student numbers: the grader of this student's variant
            grader = grader.grader_for(sub)
        if grader is None:
            self.conn.send(("broken", f"unknown assignment {sub.assignment!r}"))
            return
        pending: list[Record] = []  # finished parts not yet sent
        flushed = time.monotonic()
        inputs = grader.follow_through_inputs

        def on_part(index: int, result: PartResult, ctx: GradingContext) -> None:
            nonlocal pending, flushed
            # what the part left for a later follow-through route (grader.run.cache.follow_through_state, inline: once a part)
            pid = result.id
            pending.append((index, result, (ctx.parsed.get(pid, ABSENT), ctx.correct.get(pid)) if pid in inputs else None))
            if time.monotonic() - flushed >= FLUSH_INTERVAL:
                self._send("parts", pending)
                pending, flushed = [], time.monotonic()

        report = grader.grade(sub, guard=self.deadline, on_part=on_part, resume=task.state, verdicts=self.verdicts)
        self._send("done", pending, report.model_copy(update={"parts": []}))

    def _send(self, tag: str, records: list[Record], *rest: Any) -> None:
        self.deadline.pause()  # talking to the parent is not the part's time (the next part re-arms)
        try:
            self.conn.send((tag, records, *rest))
        except Exception:  # a parsed value that cannot be pickled: resumption just loses it
            bare = [(i, r, (ABSENT, ft[1]) if ft else None) for i, r, ft in records]
            self.conn.send((tag, bare, *rest))


def serve(
    conn: Connection,
    shared: Any,
    loader: Loader,
    limits: tuple[float, float],
    memory: int | None,
    cache: bool,
    grader_pid: int | None,
    warm: tuple[str, ...] = (),
) -> None:
    """A worker process's main function: load the graders, then grade tasks until told to stop
    (a None task, or the parent's end of the pipe closing). With `grader_pid` (the process that
    started the pool) it also dies with its parent, even if that is killed outright. `warm`
    names modules to import before saying ready (torch, which a first follow-through would
    otherwise import in the middle of the run); one that fails is left to fail where needed."""
    if grader_pid is not None:
        die_with_parent(grader_pid)  # a killed `grader run` leaves no worker behind
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a handler inherited from the parent would only unwind
    signal.signal(CPU_SIGNAL, signal.SIG_DFL)  # the CPU budget's timer ends this process (grader.run.guard)
    # The workers are the parallelism: one thread each keeps them from fighting over cores
    # (and each extra thread reserves address space under the cap). Read when torch loads.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if memory:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (memory, hard))
    try:
        graders = loader()
    except BaseException:
        conn.send(("fatal", traceback.format_exc()))
        return
    for module in warm:
        try:
            importlib.import_module(module)
        except Exception:
            pass
    budget, setup_time = limits
    worker = Worker(graders, conn, Deadline(shared, budget, setup_time), cache)
    conn.send(("ready",))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        worker.run(task)
