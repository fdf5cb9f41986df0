"""Grading under hard limits: a pool of worker processes that the parent can kill.

Why processes: a thread cannot be killed and `signal.alarm` does not interrupt a long C call
(a huge integer power, a numpy allocation), so the only wall-clock limit that always holds is
killing the process doing the work. Why not `multiprocessing.Pool`: it cannot kill one stuck
task. Why fork, or forkserver: forking is fastest (a worker is ready in milliseconds) but
unsafe once torch is imported, so a parent that has imported torch starts its workers from a
clean forkserver instead. Grading from committed keys leaves the parent torch-free.

The workers (grader.run.worker) grade whole submissions with `AssignmentGrader.grade`,
writing each part's index and deadline into memory shared with this side. The parent waits
on every pipe until the nearest deadline. A worker past its deadline is killed: that part
gets `Setback.timed_out` ("too complex to check within 2 s"), and a fresh worker resumes the
submission after the last results that reached the parent, with the follow-through context
built so far; the few parts finished since, less than FLUSH_INTERVAL of work, are simply
graded again. A worker that dies on its own costs the part it was on `Setback.grader_failed`
(a grader crash, not the student's fault).
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from typing import Any, Iterable, Iterator

from grader.models import BrokenSubmission, Submission, SubmissionReport
from grader.run.cache import restore_state
from grader.run.worker import Loader, Record, Task, serve
from grader.scoring import GradingState, Setback

DEFAULT_BUDGET = 2.0
# Address-space cap per worker. Measured: a worker that has imported the problem sets and
# torch and graded 1,000 synthetic submissions peaks at ~0.83 GB of virtual memory (~0.43 GB
# resident; torch alone maps ~0.5 GB it never touches), so 1 GB would leave too little room;
# 2 GB still stops a runaway allocation long before the machine is at risk.
DEFAULT_MEMORY = 2 * 2**30
START_TIMEOUT = 300.0  # loading problem sets (and building a stale key) is not a part's fault

# Modules every worker needs: imported once in the fork server, so a new worker starts fast.
PRELOAD = ["numpy", "pydantic", "grader.scoring", "grader.kinds", "grader.parsing", "grader.run.worker"]

Outcome = SubmissionReport | BrokenSubmission


class PoolError(RuntimeError):
    """The pool itself cannot work (a worker cannot even start)."""


@dataclass
class _Job:
    """One submission in flight, as the parent tracks it across worker restarts: `state` holds
    what has reached the parent (results, follow-through context, parts lost on the way)."""

    position: int
    sub: Submission
    state: GradingState

    def record(self, records: list[Record]) -> None:
        for index, result, ft in records:
            self.state.results.append(result)
            self.state.start = index + 1
            restore_state(self.state.ctx, result.id, ft)

    def resume(self, lost: int, setback: Setback) -> bool:
        """Carry on from the first unreported part, with part `lost` given `setback`; False if
        that cannot progress (the same place failed twice: assembling the report itself)."""
        if lost in self.state.lost:
            return False
        self.state.lost = {**self.state.lost, lost: setback}
        return True

    @property
    def task(self) -> Task:
        return Task(self.sub, self.state)


@dataclass
class _Slot:
    process: Any
    conn: Connection
    progress: Any  # shared [part index, deadline] written by the worker
    started: float
    ready: bool = False
    job: _Job | None = None


class GradingPool:
    """N worker processes grading submissions under a per-part wall-clock budget."""

    def __init__(
        self,
        loader: Loader,
        workers: int | None = None,
        budget: float = DEFAULT_BUDGET,
        memory: int | None = DEFAULT_MEMORY,
        cache: bool = True,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.loader = loader
        self.n_workers = max(1, workers or os.cpu_count() or 1)
        self.budget = budget
        self.memory = memory
        self.cache = cache
        self.start_timeout = start_timeout
        if "torch" in sys.modules:
            self.mp = get_context("forkserver")
            self.mp.set_forkserver_preload(PRELOAD)
        else:
            self.mp = get_context("fork")
        self.slots: list[_Slot] = []
        self.kills = 0  # workers killed at the budget (for tests and run statistics)
        self.crashes = 0  # workers that died on their own

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> "GradingPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self) -> _Slot:
        parent, child = self.mp.Pipe(duplex=True)
        progress = self.mp.RawArray("d", 2)
        limits = (self.budget, self.start_timeout)
        process = self.mp.Process(
            target=serve, args=(child, progress, self.loader, limits, self.memory, self.cache),
            name="grader-worker", daemon=True,
        )
        process.start()
        child.close()
        slot = _Slot(process, parent, progress, time.monotonic())
        self.slots.append(slot)
        return slot

    def _discard(self, slot: _Slot) -> None:
        if slot.process.is_alive():
            slot.process.kill()
        slot.process.join()
        slot.conn.close()
        self.slots.remove(slot)

    def close(self) -> None:
        for slot in list(self.slots):
            try:
                slot.conn.send(None)
            except OSError:
                pass
        for slot in list(self.slots):
            slot.process.join(timeout=1.0)
            self._discard(slot)

    # -- grading ----------------------------------------------------------------------------
    def grade(self, submissions: Iterable[Submission]) -> Iterator[Outcome]:
        """Reports in the order of `submissions`, graded in parallel."""
        todo = iter(enumerate(submissions))
        resumed: deque[_Job] = deque()  # tasks of killed workers go first
        finished: dict[int, Outcome] = {}
        next_out = 0
        exhausted = False
        for _ in range(self.n_workers - len(self.slots)):
            self._spawn()
        while True:
            # hand out work to every idle worker
            for slot in self.slots:
                if not slot.ready or slot.job is not None:
                    continue
                if resumed:
                    job = resumed.popleft()
                elif not exhausted:
                    nxt = next(todo, None)
                    if nxt is None:
                        exhausted = True
                        continue
                    job = _Job(nxt[0], nxt[1], GradingState())
                else:
                    continue
                slot.job = job
                slot.progress[1] = time.monotonic() + self.budget  # until the worker takes over
                slot.progress[0] = job.state.start
                slot.conn.send(job.task)
            while next_out in finished:
                yield finished.pop(next_out)
                next_out += 1
            if exhausted and not resumed and all(s.job is None for s in self.slots):
                return
            self._wait(finished, resumed)

    def _limit(self, slot: _Slot) -> float:
        return slot.progress[1] if slot.ready else slot.started + self.start_timeout

    def _wait(self, finished: dict[int, Outcome], resumed: deque[_Job]) -> None:
        """Wait for messages until the nearest deadline; replace dead workers, kill late ones."""
        busy = [s for s in self.slots if s.job is not None or not s.ready]
        timeout = max(0.0, min(map(self._limit, busy)) - time.monotonic()) if busy else None
        by_conn = {s.conn: s for s in self.slots}
        by_sentinel = {s.process.sentinel: s for s in self.slots}
        dead: list[_Slot] = []
        for obj in wait(list(by_conn) + list(by_sentinel), timeout):
            slot = by_conn.get(obj) or by_sentinel[obj]
            # a worker that died may have left its last messages in the pipe: read them first
            if (not self._drain(slot, finished) or obj is slot.process.sentinel) and slot not in dead:
                dead.append(slot)
        for slot in dead:
            self._retire(slot, resumed, finished, timed_out=False)
        for slot in [s for s in self.slots if s.job is not None or not s.ready]:
            limit = self._limit(slot)
            if time.monotonic() < limit:
                continue
            if not self._drain(slot, finished):  # a message may have come since wait() returned
                self._retire(slot, resumed, finished, timed_out=False)
            elif (slot.job is not None or not slot.ready) and self._limit(slot) == limit:
                self._retire(slot, resumed, finished, timed_out=True)  # the same part, still running

    def _drain(self, slot: _Slot, finished: dict[int, Outcome]) -> bool:
        """Read every waiting message of one worker; False when its pipe is closed."""
        try:
            while slot.conn.poll():
                self._handle(slot, slot.conn.recv(), finished)
        except (EOFError, OSError):
            return False
        return True

    def _handle(self, slot: _Slot, msg: tuple, finished: dict[int, Outcome]) -> None:
        tag = msg[0]
        if tag in ("parts", "done"):
            assert slot.job is not None
            slot.job.record(msg[1])
            if tag == "done":
                finished[slot.job.position] = msg[2].model_copy(update={"parts": slot.job.state.results})
                slot.job = None
        elif tag == "broken":
            assert slot.job is not None
            sub = slot.job.sub
            finished[slot.job.position] = BrokenSubmission(source=sub.source, reason=msg[1])
            slot.job = None
        elif tag == "ready":
            slot.ready = True
        elif tag == "fatal":
            raise PoolError(f"a grading worker could not load the problem sets:\n{msg[1]}")

    def _retire(self, slot: _Slot, resumed: deque[_Job], finished: dict[int, Outcome], timed_out: bool) -> None:
        """Kill a late or dead worker, give its submission's current part a verdict, replace it."""
        self._discard(slot)
        lost = int(slot.progress[0])  # the part it was on when it stopped (shared memory outlives it)
        code = slot.process.exitcode
        if not slot.ready:
            why = "did not start in time" if timed_out else f"exited with code {code} while starting"
            raise PoolError(f"a grading worker {why}")
        job = slot.job
        if job is not None:
            if timed_out:
                self.kills += 1
                setback = Setback.timed_out(self.budget)
            else:
                self.crashes += 1
                setback = Setback.grader_failed(f"its worker process stopped, exit code {code}")
            if job.resume(lost, setback):
                resumed.appendleft(job)
            else:
                finished[job.position] = BrokenSubmission(source=job.sub.source, reason="grading failed repeatedly")
        self._spawn()
