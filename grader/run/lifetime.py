"""How a run ends when it is stopped from outside: cleanly on SIGTERM, and never leaving
grading workers behind.

`sigterm_unwinds` turns SIGTERM into the `Terminated` exception, so `finally` blocks still
run: `grader run` commits what it graded to the store and closes its workers; Gradescope's
driver writes its final results.json. SIGKILL cannot be caught, so a worker asks the kernel
to kill it when its parent dies (`die_with_parent`, Linux's PR_SET_PDEATHSIG), and stops on
its own when its pipe to the parent closes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
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


def die_with_parent(grader_pid: int) -> None:
    """In a worker: be killed when the parent process dies, even by SIGKILL (Linux only; other
    systems rely on the pipe closing). `grader_pid` is the process that started the pool: if
    it is already gone (it died before this call), exit now."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if not alive(grader_pid):
        os._exit(0)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
