"""Folders sandboxed code must never be able to read: the answer keys, the problem sets, the
class folder. The catalog names its folders here when it opens them; grader.code.part gives the
list to every sandbox it starts (Sandbox(protected=...) refuses to start when one lies inside
what a test may read), and closes its sandbox when the list grows (the next code part starts
one that knows them all).

Kept apart from grader.code.part so that opening a catalog does not import the sandbox: only a
code part needs it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

_lock = threading.Lock()
_paths: list[Path] = []
_on_growth: list[Callable[[], None]] = []


def protect(*paths: Path | str | None) -> None:
    """Add `paths` (None is skipped) to the folders no sandboxed code may read."""
    with _lock:
        added = False
        for p in paths:
            if p is not None and (resolved := Path(p).resolve()) not in _paths:
                _paths.append(resolved)
                added = True
    if added:  # outside the lock: a listener may take its own lock, which may call protected_paths
        for call in list(_on_growth):
            call()


def on_growth(call: Callable[[], None]) -> None:
    """Call `call` each time folders are added."""
    _on_growth.append(call)


def protected_paths() -> list[Path]:
    """The folders protected so far."""
    with _lock:
        return list(_paths)
