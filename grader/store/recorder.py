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
from pathlib import Path

from grader.models import SubmissionReport
from grader.store.merge import apply_adjustments
from grader.store.repository import Store


FLUSH_EVERY = 500  # reports per store transaction


def current_command() -> str:
    return shlex.join(["grader", *sys.argv[1:]]) if sys.argv else "grader"


class RunRecorder:
    def __init__(self, store: Store, *, command: str | None = None, kind: str = "run", owns_store: bool = False) -> None:
        self.store = store
        self.command = command if command is not None else current_command()
        self.kind = kind
        self.run_id: int | None = None  # the run starts with its first report: a run that fails to start leaves no row
        self._owns_store = owns_store
        self._pending: list[SubmissionReport] = []  # written in one transaction per FLUSH_EVERY
        # Manual scores and overrides, read once per assignment (not twice per report).
        self._adjustments: dict[str, tuple[dict[str, list], dict[str, list]]] = {}

    def start(self) -> int:
        if self.run_id is None:
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
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()
        return self.merge(report)

    def flush(self) -> None:
        if self._pending and self.run_id is not None:
            self.store.record_reports(self.run_id, self._pending)
            self._pending = []

    def close(self) -> None:
        self.flush()
        if self.run_id is not None:
            self.store.finish_run(self.run_id)
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> "RunRecorder":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
