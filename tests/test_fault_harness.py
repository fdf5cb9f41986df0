"""The fault tests' own machinery does what they rely on: the private Redis restarts on the
same port empty (a broker crash without persistence), ending a worker's session leaves no
process of it behind (a grandchild in its own process group included), and a wait that does
not come true fails at its deadline instead of hanging."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from _fault_fixtures import StillWaiting, end_session, private_redis, session_members, wait_until  # noqa: F401 (fixture)


def test_private_redis_restarts_on_its_port_and_forgets(private_redis) -> None:
    import redis

    client = redis.Redis(port=private_redis.port, socket_timeout=2)
    client.set("faults:probe", "1")
    private_redis.stop()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    private_redis.start()
    assert client.get("faults:probe") is None  # in memory only: the crash lost it
    assert client.ping() and private_redis.url.endswith(f":{private_redis.port}/0")
    client.close()


def test_ending_a_session_reaps_its_whole_tree() -> None:
    # a child that starts a grandchild in a process group of its own (as a pool may) and ignores SIGTERM
    script = (
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'], process_group=0)\n"
        "time.sleep(300)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    wait_until(lambda: len(session_members(proc.pid)) == 2, timeout=20, what="the child and its grandchild running")
    t0 = time.monotonic()
    end_session(proc, grace=1.0)
    assert session_members(proc.pid) == [] and proc.poll() is not None
    assert time.monotonic() - t0 < 15


def test_a_wait_ends_at_its_deadline() -> None:
    t0 = time.monotonic()
    with pytest.raises(StillWaiting, match="never"):
        wait_until(lambda: False, timeout=0.5, what="never")
    assert 0.5 <= time.monotonic() - t0 < 3
