"""Real servers and real workers for the fault tests: a private Redis a test may stop and
restart, `grader worker` subprocesses it may kill, a course whose checks can be made slow or
stuck, and a bounded wait (the store: _store_fixtures.pg_database).

Nothing here is mocked: the broker is a `redis-server` of its own on a free port (the machine's
Redis is never stopped), and a worker is the `grader worker` command a deployment runs, in a
session of its own so that killing it (SIGKILL to its process group, as the kernel's OOM killer
or a lost machine would) ends its Celery pool and grading processes with it. Every process
started here is reaped at teardown, and every wait has a deadline.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from _children import ends_with_pytest

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[1]


# -- waiting ---------------------------------------------------------------------------------------
class StillWaiting(AssertionError):
    """A condition that did not come true before its deadline (the test fails, it never hangs)."""


def wait_until(condition: Callable[[], T], *, timeout: float, interval: float = 0.1, what: str = "the condition") -> T:
    """Poll `condition` until it returns something truthy (returned) or `timeout` seconds pass
    (StillWaiting, naming `what` and the last value or error seen)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = condition()
            if value:
                return value
            last = value
        except Exception as exc:  # a server not up yet: keep trying until the deadline
            last = exc
        if time.monotonic() >= deadline:
            raise StillWaiting(f"{what}: not so after {timeout:g} s (last seen: {last!r})")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- processes -----------------------------------------------------------------------------------
def session_members(sid: int) -> list[int]:
    """The live processes of session `sid` (a process started with start_new_session=True and
    everything it started, unless they left the session)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # fields after the command (in parentheses, which may hold spaces): state ppid pgrp session
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(entry.name))
    return found


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def end_session(proc: subprocess.Popen, *, grace: float = 10.0) -> None:
    """SIGTERM the process group of `proc` (a session leader), SIGKILL what is left after
    `grace` seconds, reap the leader, and wait (bounded) until no process of the session lives."""
    sid = proc.pid
    for sig, wait_for in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        if not session_members(sid) and proc.poll() is not None:
            break
        try:
            os.killpg(sid, sig)
        except ProcessLookupError:
            pass
        for pid in session_members(sid):  # a member that made its own group is still in the session
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=wait_for)
        except subprocess.TimeoutExpired:
            continue
        try:
            wait_until(lambda: not session_members(sid), timeout=wait_for, what=f"session {sid} empty")
            break
        except StillWaiting:
            continue
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
    left = session_members(sid)
    assert not left, f"processes of session {sid} outlived it: {left}"


# -- a private Redis -------------------------------------------------------------------------------
@dataclass
class RedisServer:
    """A `redis-server` of this test's own, in memory only (`--save ''`, no AOF): a restart
    loses every message it held, as a broker that crashed without persistence does."""

    folder: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> None:
        assert self.proc is None, "already running"
        self.starts += 1
        log = open(self.folder / f"redis-{self.starts}.log", "wb")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=ends_with_pytest,
        )
        log.close()
        wait_until(self.ping, timeout=timeout, what=f"redis-server on port {self.port} answers")

    def ping(self) -> bool:
        import redis

        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()

    def stop(self, sig: int = signal.SIGKILL) -> None:
        """Stop the server (by default as a crash does: SIGKILL, nothing written)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=15)
        end_session(self.proc)
        self.proc = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server on this machine")
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- grader workers --------------------------------------------------------------------------------
@dataclass
class Worker:
    name: str
    proc: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = 90.0) -> "Worker":
        """Until Celery says the worker consumes (`... ready.` in its log); fails if it exited."""

        def ready() -> bool:
            assert self.alive(), f"worker {self.name} exited ({self.proc.poll()}):\n{self.output()[-3000:]}"
            return " ready." in self.output()

        wait_until(ready, timeout=timeout, interval=0.2, what=f"worker {self.name} ready")
        return self

    def members(self) -> list[int]:
        """Its processes: the Celery main process, its pool processes, their grading processes."""
        return session_members(self.pid)

    def kill(self) -> None:
        """SIGKILL the worker and everything it started (its whole process group) at once: no
        handler runs, nothing is acknowledged, as when a machine dies."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=15)
        end_session(self.proc)


@dataclass
class Workers:
    """`grader worker` subprocesses of one test, every one reaped at teardown."""

    course: Path
    broker: str
    db: str
    folder: Path
    env: dict[str, str] = field(default_factory=dict)
    started: list[Worker] = field(default_factory=list)

    def command(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "grader", "worker", "--course", str(self.course), "--broker", self.broker, "--db", self.db, *extra]

    def start(self, name: str | None = None, *extra: str) -> Worker:
        """`grader worker ... --hostname NAME@faults EXTRA` in a session of its own (not waited for)."""
        name = name or f"w{len(self.started) + 1}"
        extra = ("--hostname", f"{name}@faults", *extra)
        log = self.folder / f"worker-{name}-{len(self.started)}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                self.command(*extra), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.course, env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env}, start_new_session=True,
                preexec_fn=ends_with_pytest,
            )
        worker = Worker(name, proc, log)
        self.started.append(worker)
        return worker

    def close(self) -> None:
        for w in self.started:
            end_session(w.proc)

    def logs(self) -> str:
        return "\n".join(f"--- {w.name} (pid {w.pid}, exit {w.proc.poll()}) ---\n{w.output()[-4000:]}" for w in self.started)


def workers_for(course: Path, broker: str, db: str, folder: Path, env: dict[str, str] | None = None) -> Iterator[Workers]:
    """A Workers manager whose processes are all ended (and checked gone) afterwards; on a
    failing test their logs are printed (pytest shows them with the failure)."""
    folder.mkdir(parents=True, exist_ok=True)
    workers = Workers(course, broker, db, folder, dict(env or {}))
    try:
        yield workers
    finally:
        try:
            workers.close()
        finally:
            print(workers.logs())


# -- a course whose checks can be made slow or stuck on purpose -----------------------------------
#: The course's one assignment: q1 a number (42) whose answer `slow SECONDS TAG` is read as 42
#: after leaving a marker file `TAG.<pid>` in $GRADER_TEST_MARKERS and sleeping (a check
#: observably in flight), and `hang TAG` never returns (a check stuck past every limit); q2 an
#: ordinary number (7). Sleeping costs no CPU: the per-part CPU budget never stops it, only
#: wall-clock limits do.
FAULT_PROBLEMS = '''
import os
import time
from pathlib import Path

from grader.errors import InvalidAnswer
from grader.kinds.base import Kind, Match
from grader.problemset import ProblemSet


def _mark(tag):
    folder = os.environ.get("GRADER_TEST_MARKERS")
    if folder:
        (Path(folder) / f"{tag}.{os.getpid()}").touch()


class Num(Kind):
    name = "num"
    examples = ("42",)

    def parse(self, raw):
        text = str(raw).strip()
        if text.startswith("slow "):
            _, seconds, tag = text.split()
            _mark(tag)
            time.sleep(float(seconds))
            return 42.0
        if text.startswith("hang "):
            _mark(text.split()[1])
            while True:
                time.sleep(1)
        try:
            return float(text)
        except ValueError:
            raise InvalidAnswer("cannot read this as a number", example="42") from None

    def compare(self, answer, target):
        return Match(1.0 if answer == target else 0.0)

    def canonical(self, value):
        return f"{value:g}"


faults = ProblemSet("faults-hw", title="Fault homework")


@faults.part("q1", 3, Num())
def q1():
    return 42


@faults.part("q2", 2, Num())
def q2():
    return 7
'''

FAULT_COURSE = '''
[course]
title = "Fault test course"
secret = "course.secret"

[assignments.faults-hw]
title = "Fault homework"
due = 2999-01-01T00:00:00Z
'''


def make_fault_course(root: Path) -> Path:
    import textwrap

    from conftest import build_keys_without_torch

    (root / "problems").mkdir(parents=True)
    (root / "problems" / "faults_hw.py").write_text(textwrap.dedent(FAULT_PROBLEMS))
    (root / "grader.toml").write_text(textwrap.dedent(FAULT_COURSE))
    (root / "markers").mkdir()
    build_keys_without_torch(root / "problems", root / "reference")
    return root


def markers(course: Path, tag: str) -> list[str]:
    """The marker files a check left for `tag`: one per time it started (with its process id)."""
    return sorted(p.name for p in (course / "markers").glob(f"{tag}.*"))
