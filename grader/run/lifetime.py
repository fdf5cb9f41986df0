"""How a run ends when it is stopped from outside: cleanly on SIGTERM, and never leaving
grading workers behind.

`sigterm_unwinds` turns SIGTERM into the `Terminated` exception, so `finally` blocks still
run: `grader run` commits what it graded to the store and closes its workers; Gradescope's
driver writes its final results.json. SIGKILL cannot be caught, so a worker asks the kernel
to kill it when its parent dies (`die_with_parent`, Linux's PR_SET_PDEATHSIG), and stops on
its own when its pipe to the parent closes.

A worker started from a fork server (a pool of a threaded process: `grader serve`, `grader
worker`) has the fork server as its parent, not the process that owns the pool, and the fork
server lives while any worker it forked lives (each holds a copy of its "alive" pipe): were
the owner killed while a worker waits in a check (a sleep, a lock: no CPU, so its CPU timer
never fires, and the wall-clock limit was the owner's to enforce), the two would keep each
other alive for ever. Such a worker also watches the owner itself and ends when it ends.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class Terminated(BaseException):
    """SIGTERM arrived: unwind so the final writes happen (a BaseException, so no `except
    Exception` on the way swallows it)."""


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Turn SIGTERM into `Terminated` for the duration (main thread only: signal handlers
    cannot be set elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def parent_death_signal(signum: int) -> None:
    """Ask Linux to send this process `signum` when the thread that started it ends, however it
    ends (PR_SET_PDEATHSIG; kept across exec). Elsewhere nothing happens."""
    if sys.platform.startswith("linux"):
        try:
            # the C library this interpreter is linked with: no find_library (which runs
            # `ldconfig -p` in every new worker)
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def die_with_parent(grader_pid: int) -> None:
    """In a worker: be killed when the parent process dies, even by SIGKILL (Linux only; other
    systems rely on the pipe closing). `grader_pid` is the process that started the pool: if
    it is already gone (it died before this call), exit now."""
    parent_death_signal(signal.SIGKILL)
    if not alive(grader_pid):
        os._exit(0)
    if os.getppid() != grader_pid:  # forked by a fork server: PDEATHSIG is tied to that
        _watch_owner(grader_pid)


def _watch_owner(owner: int) -> None:
    """End this process (at once, as SIGKILL would) when process `owner` ends: a thread that
    waits on a pidfd of it (no polling, no pid reuse), or, without pidfds, looks every 0.5 s."""
    try:
        pidfd: int | None = os.pidfd_open(owner)
    except (AttributeError, OSError):  # not Linux >= 5.3, or the owner is gone already
        pidfd = None
        if not alive(owner):
            os._exit(0)

    def watch() -> None:
        if pidfd is not None:
            select.select([pidfd], [], [])  # readable once the owner has exited
        else:
            while alive(owner):
                time.sleep(0.5)
        os._exit(0)

    previous = threading.stack_size(256 * 1024)  # a waiting thread needs little of the capped address space
    try:
        threading.Thread(target=watch, name="grader-owner-watch", daemon=True).start()
    finally:
        threading.stack_size(previous)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
