"""The files of a run, written in one place: `grader run`, `grader regrade` and the refresh after
manual scores all write through here.

    OUT/run.json                        counts, broken files with reasons, warnings, errors
    OUT/<assignment>/<student>.json     per-submission report (the LMS contract)
    OUT/<assignment>/<student>.md       the same for the student to read
    OUT/<assignment>/gradebook.csv      one row per submission
    OUT/<assignment>/summary.md         class statistics and common wrong answers

Outputs are a pure function of the inputs: sorted submissions, no timestamps or durations,
paths relative to the class folder and OUT, stable number formatting. Two runs over the same
files are byte-identical; timings are printed by the CLI, never written.

A report is written as soon as its file name is certain, so this process writes while the
pool grades. Names are worked out once: within an assignment, the submissions whose student
ids give the same file name are ordered by (student, source), and the k-th of them that is
graded gets `name~k` (the first the plain name); a report's name is certain, and it is
written, once every earlier submission of its group has an outcome.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from grader.models import (
    AnswerKey,
    AssignmentSummary,
    BrokenSubmission,
    ReportEntry,
    RunSummary,
    Status,
    Submission,
    SubmissionReport,
    Superseded,
)
from grader.report.gradebook import write_gradebook
from grader.report.json_report import write_json, write_report
from grader.report.markdown import write_markdown
from grader.report.summary import PartInfo, class_stats, write_summary

RUN_FILE = "run.json"
# Names the per-assignment folder already uses; a student called "summary" must not clobber them.
RESERVED_NAMES = frozenset({"gradebook", "summary", "run"})
MAX_NAME = 80
MAX_RUN_FILE_BYTES = 16 * 1024 * 1024

Outcome = SubmissionReport | BrokenSubmission


def safe_name(student: str) -> str:
    """A file name for a student id: no separators, no leading dot, bounded length."""
    name = re.sub(r"[^\w.-]", "_", student).lstrip(".")[:MAX_NAME]
    return name or "student"


def _nth_name(base: str, k: int) -> str:
    """The k-th (from 1) file stem of a group sharing `base`: `~` never survives `safe_name`,
    so `base~k` cannot collide with a real id; a reserved base starts at `~2`."""
    if base.lower() in RESERVED_NAMES:
        k += 1
    return base if k == 1 else f"{base}~{k}"


def assign_file_names(reports: Sequence[SubmissionReport | Submission]) -> list[str]:
    """One distinct file stem per report, in the given (sorted) order.

    The first of several submissions by one student (or of ids equal after sanitising, or
    equal but for case, for case-insensitive disks) keeps the plain name; later ones get
    `~2`, `~3`...
    """
    seen: dict[str, int] = {}
    names = []
    for report in reports:
        base = safe_name(report.student)
        seen[base.lower()] = seen.get(base.lower(), 0) + 1
        names.append(_nth_name(base, seen[base.lower()]))
    return names


def write_report_files(report: SubmissionReport, stem: Path) -> None:
    """OUT/<assignment>/<name>.json and .md"""
    write_report(report, Path(f"{stem}.json"))
    write_markdown(report, Path(f"{stem}.md"))


def write_class_files(
    folder: Path,
    assignment: str,
    title: str,
    parts: Sequence[PartInfo],
    reports: Sequence[SubmissionReport],
    broken: Sequence[BrokenSubmission],
    superseded: Sequence[Superseded] = (),
) -> list[Path]:
    """An assignment's gradebook.csv and summary.md."""
    return [
        write_gradebook(folder / "gradebook.csv", [p.id for p in parts], reports),
        write_summary(folder / "summary.md", assignment, title, parts, reports, broken, superseded),
    ]


def update_stats(entry: AssignmentSummary, reports: Sequence[SubmissionReport]) -> None:
    stats = class_stats(reports)
    entry.mean, entry.median, entry.min, entry.max = stats.mean, stats.median, stats.min, stats.max


def write_run_file(summary: RunSummary, out: Path) -> Path:
    return write_json(summary, Path(out) / RUN_FILE)


def read_run_file(out: Path) -> RunSummary | None:
    """The previous run's run.json in OUT, if there is a readable one."""
    path = Path(out) / RUN_FILE
    try:
        if not path.is_file() or path.stat().st_size > MAX_RUN_FILE_BYTES:
            return None
        return RunSummary.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None


def _files_of(summary: RunSummary | None) -> set[str]:
    """Report files a run wrote (from its run.json), to clear stale ones."""
    files: set[str] = set()
    for entry in summary.reports if summary is not None else []:
        rel = Path(entry.file)
        if rel.is_absolute() or ".." in rel.parts or rel.suffix != ".json":
            continue  # only ever delete what a run of ours wrote inside OUT
        files |= {rel.as_posix(), rel.with_suffix(".md").as_posix()}
    return files


class _Group:
    """The submissions of one assignment whose file names collide, in (student, source) order."""

    def __init__(self) -> None:
        self.members: list[int] = []  # positions
        self.done = 0  # members[:done] have an outcome and, if graded, a written report
        self.graded = 0


class RunWriter:
    """Writes one run into OUT: reports as their names become certain, then the rest.

        writer = RunWriter(out, keys, assignment)
        writer.plan(items)                  # every submission of the run, by position
        for position, outcome in graded:    # in any order
            writer.add(position, outcome)
        summary = writer.finish(RunSummary(warnings=..., errors=...))
    """

    def __init__(self, out: Path, keys: dict[str, AnswerKey], assignment: str | None = None) -> None:
        self.out = Path(out)
        self.keys = keys
        self.assignment = assignment
        self.outcomes: dict[int, Outcome] = {}
        self.names: dict[int, str] = {}  # position -> file stem relative to OUT
        self._group_of: dict[int, _Group] = {}
        self._order: dict[int, tuple[str, str]] = {}

    def plan(self, items: Iterable[tuple[int, Submission]]) -> None:
        """The submissions that will be graded (a position each); names follow from them."""
        groups: dict[tuple[str, str], _Group] = {}
        for position, sub in items:
            group = groups.setdefault((sub.assignment, safe_name(sub.student).lower()), _Group())
            group.members.append(position)
            self._group_of[position] = group
            self._order[position] = (sub.student, sub.source or "")
        for group in groups.values():
            group.members.sort(key=lambda p: self._order[p])

    def add(self, position: int, outcome: Outcome) -> None:
        """Record an outcome; write every report of its group whose name is now certain."""
        self.outcomes[position] = outcome
        group = self._group_of.get(position)
        while group is not None and group.done < len(group.members) and group.members[group.done] in self.outcomes:
            member = group.members[group.done]
            report = self.outcomes[member]
            if isinstance(report, SubmissionReport):
                group.graded += 1
                name = f"{report.assignment}/{_nth_name(safe_name(report.student), group.graded)}"
                self.names[member] = name
                write_report_files(report, self.out / name)
            group.done += 1

    def finish(self, summary: RunSummary) -> RunSummary:
        """Gradebooks, summaries and run.json; report files of the previous run that this one
        did not write again are removed (in the assignments it touched)."""
        stale = _files_of(read_run_file(self.out))
        graded: dict[str, list[tuple[int, SubmissionReport]]] = {}
        for position, outcome in sorted(self.outcomes.items()):
            if isinstance(outcome, BrokenSubmission):
                summary.broken.append(outcome)
            else:
                assert position in self.names, "a graded report without a name: plan() missed it"
                graded.setdefault(outcome.assignment, []).append((position, outcome))
        keys = self.keys
        touched = sorted(set(graded) | {b.assignment for b in summary.broken if b.assignment in keys} | ({self.assignment} if self.assignment else set()))
        summary.broken.sort(key=lambda b: b.source)
        written: set[str] = set()
        for a in touched:
            key = keys[a]
            entries = sorted(graded.get(a, []), key=lambda pr: (pr[1].student, pr[1].source or ""))
            reports = [r for _, r in entries]
            for position, report in entries:
                rel = self.names[position]
                written |= {f"{rel}.json", f"{rel}.md"}
                summary.reports.append(
                    ReportEntry(
                        assignment=a,
                        student=report.student,
                        file=f"{rel}.json",
                        source=report.source,
                        score=report.score,
                        max_score=report.max_score,
                        error_parts=sum(p.status is Status.error for p in report.parts),
                    )
                )
            # Broken files of this assignment, and those no known assignment can claim.
            broken = [b for b in summary.broken if b.assignment == a or b.assignment not in keys]
            parts = [PartInfo(id=p.id, max_score=p.marks) for p in key.parts]
            write_class_files(self.out / a, a, key.title, parts, reports, broken, [s for s in summary.superseded if s.assignment == a])
            entry = AssignmentSummary(
                assignment=a,
                title=key.title,
                max_score=key.total,
                graded=len(reports),
                broken=sum(b.assignment == a for b in summary.broken),
                error_parts=sum(r.error_parts for r in summary.reports if r.assignment == a),
            )
            update_stats(entry, reports)
            summary.assignments.append(entry)
        for rel in sorted(stale - written):
            if rel.split("/", 1)[0] in touched:
                (self.out / rel).unlink(missing_ok=True)
        summary.graded = len(summary.reports)
        write_run_file(summary, self.out)
        return summary
