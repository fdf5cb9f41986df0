"""The output folder of a run: kept apart from the class folder, one writer at a time.

A run writes OUT/run.json and OUT/<assignment>/<student>.json|.md and removes the reports of
its previous run there, so an OUT that is, or is inside, the class folder (or a class folder
inside one of OUT's assignment folders) would overwrite or delete submissions: such a run is
refused before anything is written. Two commands writing into one OUT at once would
interleave their files and their store; `lock_output` lets only one in.

The lock is `fcntl.flock` on OUT/.grader.lock (hidden, so never read as a submission): the
kernel drops it when its holder dies, even by SIGKILL, so a killed run never leaves a stale
lock behind (a lock file with a PID in it would). No library needed: `filelock` wraps the
same call.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".grader.lock"


class UsageError(Exception):
    """The run cannot start (no such folder, no problem sets, OUT in use...): exit code 2."""


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_out(root: Path, out: Path, assignments: Iterable[str]) -> None:
    """Raise `UsageError` if writing into `out` could touch a file of the class folder `root`."""
    klass, target = Path(root).resolve(), Path(out).resolve()
    if not klass.is_dir():
        klass = klass.parent  # a single submission file: its folder is what must stay untouched
    if _within(target, klass):
        where = "is the class folder" if target == klass else "is inside the class folder"
        raise UsageError(f"--out {out} {where} {root}: reports would overwrite or delete submissions; choose an output folder outside it")
    for assignment in assignments:
        if _within(klass, target / assignment):
            raise UsageError(f"the class folder {root} is inside {Path(out) / assignment}, where reports are written; choose another --out")


@contextmanager
def lock_output(out: Path) -> Iterator[None]:
    """Hold OUT's lock for the duration; `UsageError` if another command holds it."""
    import fcntl

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            raise UsageError(
                f"another grader command{f' (process {holder})' if holder else ''} is writing into {out}; "
                "wait for it to finish, or use another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)  # for the message to a second command
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # an idle OUT's files do not depend on who last wrote them
    finally:
        os.close(fd)  # closing releases the lock (as a process's death does)
