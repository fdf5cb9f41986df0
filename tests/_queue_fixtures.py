"""Shared pieces of the queue's tests (the store on PostgreSQL: _store_fixtures.pg_database): a unique Redis key prefix (its keys deleted after), and
real `grader worker` subprocesses (stopped, and their process group ended, after)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from _children import ends_with_pytest

from _store_fixtures import pg_database  # noqa: F401 (the shared PostgreSQL databases)

REDIS_DB = 3
REDIS = f"redis://127.0.0.1:6379/{REDIS_DB}"
RABBIT = "amqp://guest:guest@127.0.0.1:5672//"
READY_TIMEOUT = 90.0  # a worker: the course loaded, connected, its processes forked


def redis_client():  # type: ignore[no-untyped-def]
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS, socket_timeout=5, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"no Redis on 127.0.0.1:6379: {exc}")
    return client


def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted after."""
    client = redis_client()
    prefix = f"grader-test-{uuid.uuid4().hex[:10]}:"
    try:
        yield prefix
    finally:
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
        client.close()


def queue_course(root: Path, prefix: str, **settings: object) -> Path:
    """The service tests' course with a [queue] section (short lease and sweeps for tests)."""
    from _service_fixtures import make_course

    make_course(root)
    values = {"prefix": prefix, "lease": 2.0, "sweep_every": 0.5, "attempts": 3, **settings}
    lines = "\n".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in values.items())
    with (root / "grader.toml").open("a") as f:
        f.write(f"\n[queue]\n{lines}\n")
    return root


@dataclass
class Worker:
    process: subprocess.Popen
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float, count: int = 1) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if text.count(needle) >= count:
                return text
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited ({self.process.returncode}):\n{text[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not seen {count} time(s) in {timeout} s:\n{self.text()[-3000:]}")

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # warm shutdown: running tasks finish
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # whatever it started and left (its own group)
        except ProcessLookupError:
            pass
        return self.process.returncode


def start_worker(course: Path, db: str, broker: str, log: Path, *extra: str, concurrency: int = 1) -> Worker:
    """`grader worker` as a subprocess of its own process group, once it is ready."""
    command = [sys.executable, "-m", "grader", "worker", "--course", str(course), "--broker", broker, "--db", db, "--concurrency", str(concurrency), *extra]
    env = {k: v for k, v in os.environ.items() if k not in ("GRADER_BROKER_URL", "GRADER_COURSE")}
    out = log.open("w")
    process = subprocess.Popen(
        command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True, preexec_fn=ends_with_pytest
    )
    out.close()
    worker = Worker(process, log)
    try:
        worker.wait_for(" ready.", READY_TIMEOUT)
    except BaseException:
        worker.stop()
        raise
    return worker


def wait_until(check, timeout: float, every: float = 0.05):  # type: ignore[no-untyped-def]
    """`check()`'s first true value within `timeout` seconds, else AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(every)
