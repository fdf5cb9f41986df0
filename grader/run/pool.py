"""Grading under hard limits: a pool of worker processes that the parent can kill.

Why processes: a thread cannot be killed and `signal.alarm` does not interrupt a long C call
(a huge integer power, a numpy allocation), so the only limit that always holds is ending the
process doing the work: its own CPU-time timer does (SIGPROF, grader.run.guard), and the
parent kills it past the wall-clock limit behind that budget. Why not `multiprocessing.Pool`: it cannot kill one stuck
task. Why fork, or forkserver: forking is fastest (a worker is ready in milliseconds) but
unsafe once torch is imported, so a parent that has imported torch starts its workers from a
clean forkserver instead. Grading from committed keys leaves the parent torch-free.

The workers (grader.run.worker) grade whole submissions with `AssignmentGrader.grade`,
writing each part's index and deadline into memory shared with this side. The parent waits
on every pipe until the nearest deadline. A worker past its budget is ended; the part is
graded once more in a fresh worker, and if it is stopped again it gets `Setback.timed_out`
("too complex to check within 2 s"); either way a fresh worker resumes the
submission after the last results that reached the parent, with the follow-through context
built so far; the few parts finished since, less than FLUSH_INTERVAL of work, are simply
graded again. A worker that dies on its own costs the part it was on `Setback.grader_failed`
(a grader crash, not the student's fault).

Two front doors share one scheduler. `grade(submissions)` runs it in the caller's thread and
yields outcomes in order (a batch). `submit(sub)` hands one submission to a scheduler thread
and returns a `concurrent.futures.Future` at once, for drivers that grade one submission at
a time without blocking (a web service awaits `asyncio.wrap_future(pool.submit(sub))`);
its `on_part` receives each part's verdict as it reaches this process (progress). A pool
serves one of the two. Workers of a threaded pool start from a forkserver: forking a process
that runs threads could copy a lock another thread holds.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from typing import Any

from grader.models import BrokenSubmission, PartResult, Submission, SubmissionReport
from grader.run.cache import restore_state
from grader.run.guard import CPU_SIGNAL, WALL_FACTOR
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
    what has reached the parent (results, follow-through context, parts lost on the way);
    `deliver` receives the outcome, `on_part` each part's result as it arrives."""

    sub: Submission
    state: GradingState
    deliver: Callable[[Outcome], None]
    on_part: Callable[[int, PartResult], None] | None = None
    future: Future[Outcome] | None = None  # submit(): failed with the pool's error if it stops
    retried: set[int] = field(default_factory=set)  # parts already graded again after a stop at the budget

    def record(self, records: list[Record]) -> None:
        for index, result, ft in records:
            self.state.results.append(result)
            self.state.start = index + 1
            restore_state(self.state.ctx, result.id, ft)
            if self.on_part is not None:
                self.on_part(index, result)

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
    """N worker processes grading submissions under a per-part CPU-time budget."""

    def __init__(
        self,
        loader: Loader,
        workers: int | None = None,
        budget: float = DEFAULT_BUDGET,
        memory: int | None = DEFAULT_MEMORY,
        cache: bool = True,
        start_timeout: float = START_TIMEOUT,
        warm: tuple[str, ...] = (),
    ) -> None:
        self.loader = loader
        #: Modules each worker imports before it says it is ready (grader.run.worker.serve).
        self.warm = warm
        self.n_workers = max(1, workers or os.cpu_count() or 1)
        self.budget = budget
        self.memory = memory
        self.cache = cache
        self.start_timeout = start_timeout
        self.mp: Any = None  # chosen at the first worker's start
        self.slots: list[_Slot] = []
        self.kills = 0  # workers killed at the budget (for tests and run statistics)
        self.crashes = 0  # workers that died on their own
        self._resumed: deque[_Job] = deque()  # jobs of killed workers go first
        # submit(): the scheduler thread, its inbox and the pipe that wakes it
        self._thread: threading.Thread | None = None
        self._inbox: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._wake_r, self._wake_w = -1, -1
        self._stopping = False
        self._failure: BaseException | None = None
        self._lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> "GradingPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _context(self) -> Any:
        if self.mp is None:
            if "torch" in sys.modules or self._thread is not None:
                self.mp = get_context("forkserver")
                self.mp.set_forkserver_preload(PRELOAD)
            else:
                self.mp = get_context("fork")
        return self.mp

    def _spawn(self) -> _Slot:
        mp = self._context()
        parent, child = mp.Pipe(duplex=True)
        progress = mp.RawArray("d", 2)
        limits = (self.budget, self.start_timeout)
        # Linux ties a child's death to the *thread* that forked it: ask for it only when that
        # thread lives as long as the process (the main thread, or the fork server's).
        tied = mp.get_start_method() == "forkserver" or threading.current_thread() is threading.main_thread()
        process = mp.Process(
            target=serve,
            args=(child, progress, self.loader, limits, self.memory, self.cache, os.getpid() if tied else None, self.warm),
            name="grader-worker", daemon=True,
        )
        process.start()
        child.close()
        slot = _Slot(process, parent, progress, time.monotonic())
        self.slots.append(slot)
        return slot

    def start(self) -> "GradingPool":
        """Start the workers now (else the first submission does): they load while the caller
        goes on (reads the class, say)."""
        self._start_workers()
        return self

    def _start_workers(self) -> None:
        for _ in range(self.n_workers - len(self.slots)):
            self._spawn()

    def _discard(self, slot: _Slot) -> None:
        if slot.process.is_alive():
            slot.process.kill()
        slot.process.join()
        slot.conn.close()
        self.slots.remove(slot)

    def close(self) -> None:
        if self._thread is not None:
            self._stopping = True
            os.write(self._wake_w, b"x")
            self._thread.join()
            self._thread = None
            os.close(self._wake_r)
            os.close(self._wake_w)
        for slot in list(self.slots):
            try:
                slot.conn.send(None)
            except OSError:
                pass
        for slot in list(self.slots):
            slot.process.join(timeout=1.0)
            self._discard(slot)

    # -- a batch, in this thread --------------------------------------------------------------
    def grade(self, submissions: Iterable[Submission]) -> Iterator[Outcome]:
        """Reports in the order of `submissions`, graded in parallel."""
        todo = iter(enumerate(submissions))
        finished: dict[int, Outcome] = {}
        next_out = 0
        exhausted = False

        def take() -> _Job | None:
            nonlocal exhausted
            nxt = None if exhausted else next(todo, None)
            if nxt is None:
                exhausted = True
                return None
            position, sub = nxt
            return _Job(sub, GradingState(), lambda outcome: finished.__setitem__(position, outcome))

        self._start_workers()
        while True:
            self._hand_out(take)
            while next_out in finished:
                yield finished.pop(next_out)
                next_out += 1
            if exhausted and self._idle():
                return
            self._wait()

    # -- one submission at a time, from any thread ---------------------------------------------
    def submit(self, sub: Submission, on_part: Callable[[int, PartResult], None] | None = None) -> Future[Outcome]:
        """Grade `sub` in the pool; the future holds its outcome (or the PoolError that stopped
        the pool). `on_part(index, result)` is called from the scheduler thread as each part's
        verdict arrives. Thread-safe; the scheduler thread starts with the first call."""
        future: Future[Outcome] = Future()
        with self._lock:
            if self._failure is not None:
                raise PoolError(str(self._failure)) from self._failure
            if self._thread is None:
                self._wake_r, self._wake_w = os.pipe()
                self._thread = threading.Thread(target=self._serve_forever, name="grader-pool", daemon=True)
                self._thread.start()
            self._inbox.put(_Job(sub, GradingState(), future.set_result, on_part, future))
        os.write(self._wake_w, b"x")
        return future

    def _take_submitted(self) -> _Job | None:
        try:
            return self._inbox.get_nowait()
        except queue.Empty:
            return None

    def _serve_forever(self) -> None:
        try:
            self._start_workers()
            while not self._stopping:
                self._hand_out(self._take_submitted)
                self._wait(wake=self._wake_r)
            reason: BaseException = PoolError("the grading pool was closed")
        except BaseException as exc:  # a worker that cannot start: every waiting submission fails
            reason = exc
        with self._lock:
            self._failure = self._failure or reason  # no submission is taken after this
            jobs = [s.job for s in self.slots if s.job is not None] + list(self._resumed)
            while (job := self._take_submitted()) is not None:
                jobs.append(job)
        for job in jobs:
            if job.future is not None and not job.future.done():
                job.future.set_exception(reason)

    # -- the scheduler ----------------------------------------------------------------------------
    def _idle(self) -> bool:
        return not self._resumed and all(s.job is None for s in self.slots)

    def _hand_out(self, take: Callable[[], _Job | None]) -> None:
        """Give work to every idle worker: resumed jobs first, then new ones from `take`."""
        for slot in self.slots:
            if not slot.ready or slot.job is not None:
                continue
            job = self._resumed.popleft() if self._resumed else take()
            if job is None:
                continue
            slot.job = job
            slot.progress[1] = time.monotonic() + self.budget * WALL_FACTOR  # until the worker takes over
            slot.progress[0] = job.state.start
            slot.conn.send(job.task)

    def _limit(self, slot: _Slot) -> float:
        return slot.progress[1] if slot.ready else slot.started + self.start_timeout

    def _wait(self, wake: int | None = None) -> None:
        """Wait for messages until the nearest deadline (or a wake-up); replace dead workers,
        kill late ones."""
        busy = [s for s in self.slots if s.job is not None or not s.ready]
        timeout = max(0.0, min(map(self._limit, busy)) - time.monotonic()) if busy else None
        by_conn = {s.conn: s for s in self.slots}
        by_sentinel = {s.process.sentinel: s for s in self.slots}
        dead: list[_Slot] = []
        for obj in wait(list(by_conn) + list(by_sentinel) + ([wake] if wake is not None else []), timeout):
            if obj == wake:
                os.read(wake, 4096)
                continue
            slot = by_conn.get(obj) or by_sentinel[obj]
            # a worker that died may have left its last messages in the pipe: read them first
            if (not self._drain(slot) or obj is slot.process.sentinel) and slot not in dead:
                dead.append(slot)
        for slot in dead:
            self._retire(slot, timed_out=False)
        for slot in [s for s in self.slots if s.job is not None or not s.ready]:
            limit = self._limit(slot)
            if time.monotonic() < limit:
                continue
            if not self._drain(slot):  # a message may have come since wait() returned
                self._retire(slot, timed_out=False)
            elif (slot.job is not None or not slot.ready) and self._limit(slot) == limit:
                self._retire(slot, timed_out=True)  # the same part, still running

    def _drain(self, slot: _Slot) -> bool:
        """Read every waiting message of one worker; False when its pipe is closed."""
        try:
            while slot.conn.poll():
                self._handle(slot, slot.conn.recv())
        except (EOFError, OSError):
            return False
        return True

    def _handle(self, slot: _Slot, msg: tuple) -> None:
        tag = msg[0]
        if tag in ("parts", "done"):
            assert slot.job is not None
            slot.job.record(msg[1])
            if tag == "done":
                job, slot.job = slot.job, None
                job.deliver(msg[2].model_copy(update={"parts": job.state.results}))
        elif tag == "broken":
            assert slot.job is not None
            job, slot.job = slot.job, None
            job.deliver(BrokenSubmission(source=job.sub.source, reason=msg[1]))
        elif tag == "ready":
            slot.ready = True
        elif tag == "fatal":
            raise PoolError(f"a grading worker could not load the problem sets:\n{msg[1]}")

    def _retire(self, slot: _Slot, timed_out: bool) -> None:
        """Kill a late or dead worker, give its submission's current part a verdict, replace it."""
        self._discard(slot)
        lost = int(slot.progress[0])  # the part it was on when it stopped (shared memory outlives it)
        code = slot.process.exitcode
        if not slot.ready:
            why = "did not start in time" if timed_out else f"exited with code {code} while starting"
            raise PoolError(f"a grading worker {why}")
        job = slot.job
        timed_out = timed_out or code == -CPU_SIGNAL  # its CPU timer ended it (grader.run.guard)
        if job is not None:
            if timed_out:
                self.kills += 1
            else:
                self.crashes += 1
            if timed_out and lost not in job.retried:
                # Graded once more, in a fresh worker, before it is called too complex: a stop
                # is then never the luck of one moment of the machine.
                job.retried.add(lost)
                self._resumed.appendleft(job)
            elif job.resume(lost, Setback.timed_out(self.budget) if timed_out else Setback.grader_failed(f"its worker process stopped, exit code {code}")):
                self._resumed.appendleft(job)
            else:
                job.deliver(BrokenSubmission(source=job.sub.source, reason="grading failed repeatedly"))
        self._spawn()
