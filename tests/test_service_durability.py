"""Nothing lost: a real `grader serve` (uvicorn, the grading pool) killed mid-submit leaves the
submission absent, and the retry with the same Idempotency-Key completes it exactly once; a
submission answered is on disk (a restarted server returns the same one)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from _children import ends_with_pytest

from conftest import build_keys_without_torch

SLOW = '''
import time
from grader.kinds.base import Kind, Match
from grader.problemset import ProblemSet


class Slow(Kind):
    """Takes a second to check: a window in which to kill the server."""
    name = "slow"

    def parse(self, raw):
        return str(raw).strip()

    def compare(self, answer, target):
        time.sleep(1.0)
        return Match(1.0 if answer == target else 0.0)


slow = ProblemSet("slow-hw", title="Slow")


@slow.part("a", 1, Slow())
def a():
    return "yes"
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def grader(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=True)


class Server:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader", "serve", "--course", str(root), "--port", str(self.port)],
            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, preexec_fn=ends_with_pytest,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.kill()
        raise RuntimeError("grader serve did not start")

    def kill(self) -> None:
        # the server and its grading workers (its own session)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)


@pytest.fixture
def slow_course(tmp_path: Path) -> Path:
    (tmp_path / "problems").mkdir()
    (tmp_path / "problems" / "slow_hw.py").write_text(textwrap.dedent(SLOW))
    (tmp_path / "grader.toml").write_text('[course]\ntitle = "slow"\n\n[assignments.slow-hw]\ndue = 2999-01-01T00:00:00Z\n')
    build_keys_without_torch(tmp_path / "problems", tmp_path / "reference")
    return tmp_path


def recorded(root: Path) -> int:
    from grader.course import load_course
    from grader.store.repository import Store
    from grader.store.service import ServiceStore

    course = load_course(root)
    with Store.open(course.out) as store:
        return len(ServiceStore(store).submissions("slow-hw"))


def test_killed_mid_submit_then_retried(slow_course: Path) -> None:
    token = grader("token", "s1", "--course", str(slow_course), cwd=slow_course).stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "hand-in-1"}
    body = {"answers": {"a": "yes"}}
    server = Server(slow_course)
    outcome: dict[str, object] = {}

    def post() -> None:
        try:
            outcome["response"] = httpx.post(server.url + "/api/v1/assignments/slow-hw/submissions", json=body, headers=headers, timeout=30)
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    t = threading.Thread(target=post)
    t.start()
    time.sleep(0.6)  # the request is in, its part is being checked
    server.kill()
    t.join(timeout=30)
    assert "error" in outcome  # the client never got an answer
    assert recorded(slow_course) == 0  # and nothing half-written is left

    server = Server(slow_course)
    try:
        first = httpx.post(server.url + "/api/v1/assignments/slow-hw/submissions", json=body, headers=headers, timeout=60)
        assert first.status_code == 201
        assert first.json()["report"]["score"] == 1.0
    finally:
        server.kill()
    assert recorded(slow_course) == 1

    server = Server(slow_course)  # after a restart the answered submission is still there
    try:
        again = httpx.post(server.url + "/api/v1/assignments/slow-hw/submissions", json=body, headers=headers, timeout=60)
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        got = httpx.get(server.url + f"/api/v1/submissions/{first.json()['id']}", headers=headers, timeout=10)
        assert got.json() == first.json()
    finally:
        server.kill()
    assert recorded(slow_course) == 1
