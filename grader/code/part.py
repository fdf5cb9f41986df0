"""Grading one code part of a submission from its key data, in a sandbox of this process.

`run_code_part` is what the part loop (grader.scoring) calls for a part of kind `code`: it reads
the student's code files, picks the cells of the part, and runs grade_code or grade_curve
against the expectations stored in the key (grader.code.expectations). Nothing here imports
torch: the sandbox's zygote does, in its own process.

One sandbox per process (`shared_sandbox`), started on the first code part: a pool worker
grades many submissions with one zygote (torch imported once). Each sandboxed test runs
through `outside_budget`, the driver's hook for work that has limits of its own (the pool's
per-part budget pauses for it; the sandbox stops the test at the part's own limits).
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any, Callable, TypeVar

import numpy as np

from grader.code.expectations import decode_code, decode_curve, limits_of
from grader.code.grade import CodeVerdict, grade_code, grade_curve
from grader.code.notebook import UnreadableCode, read_files, sources_for
from grader.code.protected import on_growth, protected_paths
from grader.sandbox import Limits, Sandbox, TestOutcome
from grader.sandbox.preload import PRELOAD_GRADCHECK, PRELOAD_TRAINING

T = TypeVar("T")

_lock = threading.Lock()
_shared: tuple[int, Sandbox] | None = None


def shared_sandbox() -> Sandbox:
    """This process's sandbox, started on first use (a forked process never reuses its
    parent's: the pipes to that zygote are the parent's)."""
    global _shared
    with _lock:
        if _shared is None or _shared[0] != os.getpid():
            box = Sandbox(preload=PRELOAD_GRADCHECK + PRELOAD_TRAINING, protected=protected_paths())
            _shared = (os.getpid(), box)
            atexit.register(_close, os.getpid())
        return _shared[1]


def _restart() -> None:
    """More folders are protected: a sandbox started without them is closed (the next code
    part starts one that knows them)."""
    global _shared
    with _lock:
        if _shared is not None and _shared[0] == os.getpid():
            _shared[1].close()
            _shared = None


on_growth(_restart)


def _close(pid: int) -> None:
    if _shared is not None and _shared[0] == pid == os.getpid():
        _shared[1].close()


def layers_summary() -> str | None:
    """Which isolation layers this process's sandbox has (None before it started)."""
    if _shared is None or _shared[0] != os.getpid() or _shared[1].layers is None:
        return None
    return _shared[1].layers.summary()


class _Budgeted:
    """A sandbox whose tests (and its start) run through the driver's `outside` hook."""

    def __init__(self, box: Sandbox, outside: Callable[[Callable[[], Any]], Any]) -> None:
        self.box, self.outside = box, outside

    def run(self, test: dict[str, Any], sources: list[dict[str, Any]], arrays: dict[str, np.ndarray], limits: Limits) -> TestOutcome:
        return self.outside(lambda: self.box.run(test, sources, arrays, limits))


def _now(load: Callable[[], T]) -> T:
    return load()


def run_code_part(
    part_id: str, data: dict[str, Any], files: dict[str, str], outside: Callable[[Callable[[], Any]], Any] = _now, sandbox: Sandbox | None = None
) -> tuple[CodeVerdict, str, list[str]]:
    """The verdict on one code part, the cells it ran (for the report's `answer`) and notes on
    reading them (notebook commands not run).
    An unreadable notebook is `invalid`; no cell for the part is `missing`."""
    try:
        codes = read_files(files)
        sources, own = sources_for(codes, part_id, data.get("after", ()))
    except UnreadableCode as exc:
        return CodeVerdict(status="invalid", feedback=f"{exc}"), ", ".join(sorted(files)), []
    notes = [n for code in codes for n in code.notes]
    if not own:
        where = ", ".join(sorted(files)) or "your submission"
        return CodeVerdict(status="missing", feedback=f"no code for part {part_id} was found in {where}: start its notebook cell or .py section with `# grader: {part_id}`"), "", notes
    ran = _where(sources, codes)
    box = _Budgeted(sandbox or outside(shared_sandbox_started), outside)
    limits = limits_of(data)
    if data["form"] == "training":
        spec, curves = decode_curve(data)
        verdict = grade_curve(box, spec, curves, sources, limits)  # type: ignore[arg-type]
    else:
        spec, probes = decode_code(data)
        verdict = grade_code(box, spec, probes, sources, limits)  # type: ignore[arg-type]
    return verdict, ran, notes


def _where(sources: list[Any], codes: list[Any]) -> str:
    """The cells that ran, for the report: `hw2.ipynb (cells 2, 4)`, `hw2.py (lines 3, 9)`."""
    unmarked = {code.source for code in codes if code.cells and not code.parts()}
    places: dict[str, list[str]] = {}
    for s in sources:
        file, _, cell = s.name.partition(" cell ")
        places.setdefault(file, [])
        if cell:
            places[file].append(cell)
        elif file not in unmarked:
            places[file].append(str(s.first_line))
    def shown(file: str, items: list[str]) -> str:
        noun = "cell" if file.lower().endswith(".ipynb") else "line"
        return f"{file} ({noun}{'s' if len(items) > 1 else ''} {', '.join(items)})" if items else file

    return "; ".join(shown(file, items) for file, items in places.items())


def shared_sandbox_started() -> Sandbox:
    box = shared_sandbox()
    box.start()  # importing torch in the zygote: seconds, run outside the part's budget
    return box
