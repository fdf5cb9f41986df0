"""The runner's hook into the store: one run, every report recorded, manual scores merged in.

    with RunRecorder.open(out, db_url, command="grader run submissions/") as recorder:
        for report in graded:
            report = recorder.record(report)   # stored as autograded; returned with manual scores
            write_reports(report)

The raw autograded report is what the run stores (so it can be reproduced from the key hash
and grader version); what is returned, and written for students, includes the manual scores
and overrides recorded so far.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from grader.models import SubmissionReport
from grader.store.db import store_errors
from grader.store.merge import apply_adjustments
from grader.store.repository import Store


# A store transaction holds at most FLUSH_EVERY reports or FLUSH_SECONDS of grading, so a
# run killed outright (SIGKILL, a power cut) loses at most that much of what it had graded;
# SIGTERM and Ctrl-C flush (the command's `finally` closes the recorder). One commit per
# report was most of a large batch's time.
FLUSH_EVERY = 500
FLUSH_SECONDS = 1.0


def current_command() -> str:
    return shlex.join(["grader", *sys.argv[1:]]) if sys.argv else "grader"


class RunRecorder:
    def __init__(self, store: Store, *, command: str | None = None, kind: str = "run", owns_store: bool = False) -> None:
        self.store = store
        self.command = command if command is not None else current_command()
        self.kind = kind
        self.run_id: int | None = None  # the run starts with its first report: a run that fails to start leaves no row
        self._owns_store = owns_store
        self._pending: list[SubmissionReport] = []  # written in one transaction per FLUSH_EVERY / FLUSH_SECONDS
        self._flushed = time.monotonic()
        self.recorded = 0  # reports committed so far
        # Manual scores and overrides, read once per assignment (not twice per report).
        self._adjustments: dict[str, tuple[dict[str, list], dict[str, list]]] = {}

    def start(self) -> int:
        if self.run_id is None:
            with store_errors(self.store.url, "could not start a run in the grade store"):
                self.run_id = self.store.begin_run(self.command, kind=self.kind)
        return self.run_id

    @classmethod
    def open(cls, out: Path | None, db_url: str | None = None, *, command: str | None = None, kind: str = "run") -> "RunRecorder":
        return cls(Store.open(out, db_url), command=command, kind=kind, owns_store=True)

    def merge(self, report: SubmissionReport) -> SubmissionReport:
        """The report with this student's manual scores and overrides applied."""
        if report.assignment not in self._adjustments:
            manual: dict[str, list] = {}
            overrides: dict[str, list] = {}
            for m in self.store.manual_scores(report.assignment):
                manual.setdefault(m.student, []).append(m)
            for o in self.store.overrides(report.assignment):
                overrides.setdefault(o.student, []).append(o)
            self._adjustments[report.assignment] = (manual, overrides)
        manual, overrides = self._adjustments[report.assignment]
        return apply_adjustments(report, manual.get(report.student, []), overrides.get(report.student, []))

    def record(self, report: SubmissionReport) -> SubmissionReport:
        self.start()
        self._pending.append(report)
        if len(self._pending) >= FLUSH_EVERY or time.monotonic() - self._flushed >= FLUSH_SECONDS:
            self.flush()
        with store_errors(self.store.url, "could not read manual scores from the grade store"):
            return self.merge(report)

    def flush(self) -> None:
        if self._pending and self.run_id is not None:
            with store_errors(self.store.url, "could not record results in the grade store"):
                self.store.record_reports(self.run_id, self._pending)
            self.recorded += len(self._pending)
            self._pending = []
        self._flushed = time.monotonic()

    def close(self) -> None:
        try:
            self.flush()
            if self.run_id is not None:
                with store_errors(self.store.url, "could not finish the run in the grade store"):
                    self.store.finish_run(self.run_id)
        finally:
            if self._owns_store:
                self.store.close()

    def __enter__(self) -> "RunRecorder":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
