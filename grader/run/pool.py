"""Grading under hard limits: a pool of worker processes that the parent can kill.

Why processes: a thread cannot be killed and `signal.alarm` does not interrupt a long C call
(a huge integer power, a numpy allocation), so the only wall-clock limit that always holds is
killing the process doing the work. Why not `multiprocessing.Pool`: it cannot kill one stuck
task. Why fork, or forkserver: forking is fastest (a worker is ready in milliseconds) but
unsafe once torch is imported, so a parent that has imported torch starts its workers from a
clean forkserver instead. Grading from committed keys leaves the parent torch-free.

Each worker is started once per run, caps its address space (RLIMIT_AS), loads the graders
once, then grades whole submissions. Before each part it writes the part's index and deadline
into memory shared with the parent (no message, so no cost per part); results travel in
batches at least every FLUSH_INTERVAL and with the finished report. The parent waits on every
pipe until the nearest deadline. A worker past its deadline is killed: that part becomes
`invalid` ("too complex to check within 2 s"), and a fresh worker resumes the submission
after the last results that reached the parent, with the GradingContext built so far (so
follow-through from earlier parts still works); the few parts finished since, less than
FLUSH_INTERVAL of work, are simply graded again. A worker that dies on its own costs the part
it was on an `error` (a grader crash, not the student's fault).
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import signal
import sys
import time
import traceback
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from grader.models import BrokenSubmission, PartResult, Status, Submission, SubmissionReport
from grader.scoring import AssignmentGrader, GradingContext

DEFAULT_BUDGET = 2.0
# Address-space cap per worker. Measured: a worker that has imported the problem sets and
# torch and graded 1,000 synthetic submissions peaks at ~0.83 GB of virtual memory (~0.43 GB
# resident; torch alone maps ~0.5 GB it never touches), so 1 GB would leave too little room;
# 2 GB still stops a runaway allocation long before the machine is at risk.
DEFAULT_MEMORY = 2 * 2**30
START_TIMEOUT = 300.0  # loading problem sets (and building a stale key) is not a part's fault
# Results reach the parent at least this often. One message per part would cost more than
# most parts (a cache hit is ~20 µs); a kill re-grades at most this much finished work.
FLUSH_INTERVAL = 0.05
CACHE_ENTRIES = 50_000
CACHE_RAW_LIMIT = 4_096  # longer answers are rare and unlikely to repeat: not worth a key

# Modules every worker needs: imported once in the fork server, so a new worker starts fast.
PRELOAD = ["numpy", "pydantic", "grader.scoring", "grader.kinds", "grader.parsing"]

Loader = Callable[[], Mapping[str, AssignmentGrader]]
Outcome = SubmissionReport | BrokenSubmission


class PoolError(RuntimeError):
    """The pool itself cannot work (a worker cannot even start)."""


@dataclass(frozen=True)
class LoadProblemSets:
    """A picklable loader: the graders of a problems folder with its answer keys (grader.catalog:
    committed keys as they are, problem sets imported only when follow-through or a hint needs them)."""

    problems: Path
    reference: Path | None = None

    def __call__(self) -> dict[str, AssignmentGrader]:
        from grader.keys.catalog import Catalog

        catalog = Catalog(self.problems, self.reference)
        if catalog.errors:  # the runner reports these and grades the rest; a bare pool stops
            raise RuntimeError("; ".join(catalog.errors))
        return {a: g for a in catalog.assignments if (g := catalog.grader(a)) is not None}


# -- the worker side ---------------------------------------------------------------------------
@dataclass
class _Task:
    """A submission to grade from part `start` on; `failed` holds parts lost to a dead worker."""

    sub: Submission
    start: int = 0
    ctx: GradingContext = field(default_factory=GradingContext)
    results: list[PartResult] = field(default_factory=list)
    failed: dict[int, tuple[Status, str]] = field(default_factory=dict)


def _raw_key(raw: Any) -> str | None:
    text = json.dumps(raw, sort_keys=True, default=repr, ensure_ascii=False)
    return text if len(text) <= CACHE_RAW_LIMIT else None


class _Worker:
    """Grades tasks inside a worker process; remembers verdicts on identical answers."""

    def __init__(
        self, graders: Mapping[str, AssignmentGrader], conn: Connection, progress: Any, limits: tuple[float, float], cache: bool
    ) -> None:
        self.graders = graders
        self.conn = conn
        self.progress = progress  # shared with the parent: [index of the part in hand, its deadline]
        self.budget, self.setup_time = limits
        self.cache: OrderedDict[tuple, tuple[PartResult, tuple | None]] | None = OrderedDict() if cache else None
        # Per assignment: per part, the parts its follow-through routes read; and all those
        # parts (their parsed value and correctness travel with the results).
        self.deps: dict[str, list[tuple[str, ...]]] = {}
        self.used: dict[str, set[str]] = {}

    def _begin(self, index: int, seconds: float) -> None:
        # the deadline first: a parent reading between the two writes sees a later deadline
        self.progress[1] = time.monotonic() + seconds
        self.progress[0] = index

    def run(self, task: _Task) -> None:
        sub = task.sub
        grader = self.graders.get(sub.assignment)
        if grader is None:
            self.conn.send(("broken", f"unknown assignment {sub.assignment!r}"))
            return
        if sub.assignment not in self.deps:
            deps = [tuple(sorted({u for route in pg.key.follow_through for u in route})) for pg in grader.graders]
            self.deps[sub.assignment] = deps
            self.used[sub.assignment] = {u for d in deps for u in d}
            self._announce_setup(grader)
        ctx = task.ctx
        results = task.results
        used = self.used[sub.assignment]
        pending: list[tuple] = []  # (index, result, follow-through state) not yet sent
        flushed = time.monotonic()
        for index in range(task.start, len(grader.graders)):
            if pending and time.monotonic() - flushed >= FLUSH_INTERVAL:
                self._send("parts", pending)
                pending, flushed = [], time.monotonic()
            self._begin(index, self.budget)
            pg = grader.graders[index]
            if index in task.failed:
                status, feedback = task.failed[index]
                result = pg.result(status, 0.0, feedback, sub.answers.get(pg.id))
            else:
                self._before(grader, index, ctx)
                result = self.grade_part(grader, index, sub, ctx)
            results.append(result)
            ft = (ctx.parsed.get(pg.id, _ABSENT), ctx.correct.get(pg.id)) if pg.id in used else None
            pending.append((index, result, ft))
        self._begin(len(grader.graders), self.budget)
        report = grader.assemble(sub, results)
        self._send("done", pending, report.model_copy(update={"parts": []}))

    def _send(self, tag: str, records: list[tuple], *rest: Any) -> None:
        try:
            self.conn.send((tag, records, *rest))
        except Exception:  # a parsed value that cannot be pickled: resumption just loses it
            bare = [(i, r, (_ABSENT, ft[1]) if ft else None) for i, r, ft in records]
            self.conn.send((tag, bare, *rest))

    def _setup(self, load: Callable[[], Any]) -> Any:
        """Run `load` under the setup allowance, not the part's budget: importing a problem set
        or torch takes seconds, and prepares follow-through or hints for every later part."""
        index = int(self.progress[0])
        self._begin(index, self.setup_time)
        try:
            return load()
        finally:
            self._begin(index, self.budget)

    def _announce_setup(self, grader: AssignmentGrader) -> None:
        """Announce the problem set's import whenever it happens (follow-through or a hint)."""
        source = grader.source
        if source.loaded:
            return
        load = source.get

        def get() -> Any:
            return load() if source.loaded else self._setup(lambda: (load(), importlib.import_module("torch"))[0])

        source.get = get  # type: ignore[method-assign]  (every part grader shares this source)

    def _before(self, grader: AssignmentGrader, index: int, ctx: GradingContext) -> None:
        """Import torch as setup when this part may recompute a reference (follow-through)."""
        if "torch" in sys.modules:
            return
        for uses in grader.graders[index].key.follow_through:
            if uses and all(u in ctx.parsed for u in uses) and not all(ctx.correct.get(u) for u in uses):
                self._setup(lambda: (grader.source.get(), importlib.import_module("torch")))
                return

    def grade_part(self, grader: AssignmentGrader, index: int, sub: Submission, ctx: GradingContext) -> PartResult:
        """`grader.grade_part`, or the verdict already given to the same answer in the same context.

        The context (the answers and verdicts of the parts a follow-through route reads) is
        part of the key only where it can matter: an answer that matches the reference or an
        accepted alternative is judged before follow-through is tried, so it is keyed by itself.
        """
        if self.cache is None:
            return grader.grade_part(index, sub, ctx)
        pid = grader.graders[index].id
        raw = _raw_key(sub.answers.get(pid))
        if raw is None:
            return grader.grade_part(index, sub, ctx)
        plain = (sub.assignment, pid, raw)
        deps = self.deps[sub.assignment][index]
        dep_keys = tuple((u, _raw_key(sub.answers.get(u)), ctx.correct.get(u), u in ctx.parsed) for u in deps)
        full = (*plain, dep_keys) if deps and all(d[1] is not None for d in dep_keys) else None
        for key in (plain, full):
            hit = self.cache.get(key) if key is not None else None
            if hit is not None:
                self.cache.move_to_end(key)
                result, state = hit
                if state is not None:
                    parsed, correct = state
                    if parsed is not _ABSENT:
                        ctx.parsed[pid] = parsed
                    if correct is not None:
                        ctx.correct[pid] = correct
                return result
        result = grader.grade_part(index, sub, ctx)
        context_free = not deps or result.matched == "reference" or (result.matched or "").startswith("alternative")
        key = plain if context_free else full
        if key is not None:
            state = (ctx.parsed.get(pid, _ABSENT), ctx.correct.get(pid)) if pid in self.used[sub.assignment] else None
            self.cache[key] = (result, state)
            if len(self.cache) > CACHE_ENTRIES:
                self.cache.popitem(last=False)
        return result


class _Absent:
    """Marks 'no parsed value' in part messages (None may be a parsed value)."""

    def __reduce__(self) -> str:
        return "_ABSENT"


_ABSENT = _Absent()


def _serve(conn: Connection, progress: Any, loader: Loader, limits: tuple[float, float], memory: int | None, cache: bool) -> None:
    """A worker process's main function."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
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
    worker = _Worker(graders, conn, progress, limits, cache)
    conn.send(("ready",))
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        worker.run(task)


# -- the parent side ---------------------------------------------------------------------------
@dataclass
class _Job:
    """One submission in flight, as the parent tracks it across worker restarts."""

    position: int
    task: _Task
    reported: int = 0  # parts before this one have reached the parent

    def record(self, records: list[tuple]) -> None:
        for index, result, ft in records:
            self.task.results.append(result)
            self.reported = index + 1
            if ft is not None:
                parsed, correct = ft
                if parsed is not _ABSENT:
                    self.task.ctx.parsed[result.id] = parsed
                if correct is not None:
                    self.task.ctx.correct[result.id] = correct

    def resume(self, lost: int, status: Status, feedback: str) -> bool:
        """Carry on from the first unreported part, with part `lost` given `status`; False if
        that cannot progress (the same place failed twice: assembling the report itself)."""
        if lost in self.task.failed:
            return False
        failed = dict(self.task.failed)
        failed[lost] = (status, feedback)
        self.task = _Task(self.task.sub, self.reported, self.task.ctx, self.task.results, failed)
        return True


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
            target=_serve, args=(child, progress, self.loader, limits, self.memory, self.cache),
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
                    job = _Job(nxt[0], _Task(nxt[1]))
                else:
                    continue
                slot.job = job
                job.reported = job.task.start
                slot.progress[1] = time.monotonic() + self.budget  # until the worker takes over
                slot.progress[0] = job.task.start
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
                finished[slot.job.position] = msg[2].model_copy(update={"parts": slot.job.task.results})
                slot.job = None
        elif tag == "broken":
            assert slot.job is not None
            sub = slot.job.task.sub
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
                status = Status.invalid
                feedback = (
                    f"Too complex to check within {self.budget:g} s: checking this answer was stopped. "
                    "Write it in a simpler form."
                )
            else:
                self.crashes += 1
                status = Status.error
                feedback = (
                    f"The grader itself failed on this part (its worker process stopped, exit code {code}). "
                    "This is not your mistake; course staff will look at it."
                )
            if job.resume(lost, status, feedback):
                resumed.appendleft(job)
            else:
                sub = job.task.sub
                finished[job.position] = BrokenSubmission(source=sub.source, reason="grading failed repeatedly")
        self._spawn()
