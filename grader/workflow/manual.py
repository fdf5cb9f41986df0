"""Manual grading of free-text parts and overrides: the queue, recording scores, a spreadsheet import.

The queue runs part by part (every student's answer to one part, then the next part), so one
person marks one question consistently; scored answers leave it, so a session can stop and
resume later. `import_scores` takes a CSV with columns student, part, score, comment, checks
every row first, then stores them all in one transaction, or none and lists the bad ones.
After any of these, the run's files are brought up to date by `grader.workflow.refresh`. The terminal session over the queue is
`grader manual` (grader.cli.manual); the service grades the same queue in the browser.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from grader.keys.build import key_path, read_key
from grader.models import Status, SubmissionReport
from grader.store.loading import raw_reports
from grader.store.models import ManualScore, Override

if TYPE_CHECKING:
    from grader.store.repository import Store


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# -- what can be scored by hand -----------------------------------------------------------------
@dataclass(frozen=True)
class PartInfo:
    id: str
    max_score: float
    manual: bool
    position: int


@dataclass(frozen=True)
class QueueItem:
    student: str
    part_id: str
    max_score: float
    answer: str


def catalogue(reports: list[SubmissionReport]) -> dict[str, PartInfo]:
    """The assignment's parts as the graded reports know them (order, marks, manual or not)."""
    parts: dict[str, PartInfo] = {}
    for report in reports:
        for i, p in enumerate(report.parts):
            manual = p.kind == "text" or p.status is Status.manual
            known = parts.get(p.id)
            parts[p.id] = PartInfo(p.id, p.max_score, manual or (known.manual if known else False), known.position if known else i)
    return parts


def manual_queue(store: Store, out: Path | None, assignment: str) -> list[QueueItem]:
    """Answers to free-text parts not yet scored, part by part (problem-set order), then by student."""
    reports = raw_reports(store, out, assignment)
    info = catalogue(reports)
    done = {(m.student, m.part_id) for m in store.manual_scores(assignment)}
    items = [
        QueueItem(r.student, p.id, p.max_score, p.answer or "")
        for r in reports
        for p in r.parts
        if info[p.id].manual and p.status is not Status.missing and (r.student, p.id) not in done
    ]
    return sorted(items, key=lambda q: (info[q.part_id].position, q.part_id, q.student))


def part_prompts(reference: Path | None, assignment: str) -> dict[str, str]:
    """Question texts from the answer key, when there is one (shown to the person grading)."""
    if reference is None:
        return {}
    path = key_path(reference, assignment)
    try:
        return {p.id: p.prompt for p in read_key(path).parts if p.prompt}
    except (OSError, ValueError):
        return {}


def check_score(score: float, max_score: float) -> None:
    if not (0 <= score <= max_score):
        raise ValueError(f"the score must be between 0 and {max_score:g}")


def record_score(store: Store, assignment: str, item: QueueItem, score: float, comment: str, *, grader: str) -> ManualScore:
    """Store a person's score for one queued answer (checked against the part's marks)."""
    check_score(score, item.max_score)
    entry = ManualScore(assignment=assignment, student=item.student, part_id=item.part_id, score=score, comment=comment, grader=grader, at=utcnow())
    store.set_manual_score(entry)
    return entry


def already_scored(store: Store, assignment: str, item: QueueItem) -> bool:
    """Whether someone scored this answer since the queue was built (two people grading at once)."""
    return any(m.part_id == item.part_id for m in store.manual_scores(assignment, item.student))


def set_override(
    store: Store, out: Path | None, assignment: str, student: str, part_id: str, score: float | None, *, reason: str = "", grader: str
) -> None:
    """Replace the score of any part for one student (survives every re-run); None removes it.

    Raises LookupError for a part the graded reports do not have, ValueError for a score
    outside the part's marks."""
    parts = catalogue(raw_reports(store, out, assignment))
    if part_id not in parts:
        raise LookupError(f"Unknown part {part_id!r} of {assignment}.")
    if score is None:
        store.delete_override(assignment, student, part_id)
        return
    check_score(score, parts[part_id].max_score)
    store.set_override(Override(assignment=assignment, student=student, part_id=part_id, score=score, reason=reason, grader=grader, at=utcnow()))


# -- spreadsheet import -------------------------------------------------------------------------
@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str
    row: dict[str, str]


@dataclass
class ImportResult:
    imported: list[ManualScore]
    bad: list[BadRow]


# A scores spreadsheet is a few hundred rows; these bound what a bad file can cost.
MAX_IMPORT_BYTES = 16 * 2**20
MAX_ID_CHARS = 200  # the store's student and part columns
MAX_COMMENT_CHARS = 20_000


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """Every row of a scores CSV: (line, cells by lower-cased header). ValueError, naming the
    file (and line), if the file as a whole cannot be read; a row that is merely bad is the
    caller's to judge (a cell of any size is read, up to the file's bound)."""
    size = path.stat().st_size
    if size > MAX_IMPORT_BYTES:
        raise ValueError(f"{path}: {size} bytes is too large for a scores file (the limit is {MAX_IMPORT_BYTES // 2**20} MB)")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start}); save the spreadsheet as CSV UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    previous = csv.field_size_limit(max(size, 1))  # one big cell is a bad row, not an unreadable file
    rows = []
    try:
        headers = [(h or "").strip().lower() for h in reader.fieldnames or []]
        missing = {"student", "part", "score"} - set(headers)
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected student, part, score, comment")
        for row in reader:
            cells = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
            if None in row:  # more cells than columns: an unquoted comma, most likely
                cells[EXTRA] = str(len(row[None]))
            rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise ValueError(f"{path}, line {reader.line_num}: {exc}") from None
    finally:
        csv.field_size_limit(previous)
    return rows


EXTRA = "\0extra"  # a key no header can have: how many cells a row had beyond the columns


def _too_long(data: dict[str, str]) -> str | None:
    for column, limit in (("student", MAX_ID_CHARS), ("part", MAX_ID_CHARS), ("grader", MAX_ID_CHARS), ("comment", MAX_COMMENT_CHARS), ("score", 50)):
        if len(data.get(column, "")) > limit:
            return f"the {column} cell is longer than {limit} characters"
    return None


def import_scores(store: Store, out: Path | None, assignment: str, path: Path, *, grader: str) -> ImportResult:
    """Check every row of a (student, part, score, comment) CSV first; if all are good, store
    them in one transaction, else store none and list the bad ones with why (so a file is
    never half imported, and importing it again once fixed is safe)."""
    reports = raw_reports(store, out, assignment)
    parts = catalogue(reports)
    students = {r.student for r in reports}
    manual_ids = sorted(p.id for p in parts.values() if p.manual)
    good: list[ManualScore] = []
    bad: list[BadRow] = []
    seen: dict[tuple[str, str], int] = {}
    for line, data in read_rows(Path(path)):
        student, part_id, raw_score = data.get("student", ""), data.get("part", ""), data.get("score", "")
        reason = None
        if not any(data.values()):
            continue  # a blank line in the spreadsheet
        if EXTRA in data:
            reason = f"{data.pop(EXTRA)} cell(s) more than there are columns; put a comment with commas in quotes"
        elif (too_long := _too_long(data)) is not None:
            reason = too_long
            data = {k: v[:60] + ("…" if len(v) > 60 else "") for k, v in data.items()}  # listed, not echoed whole
        elif data.get("assignment") and data["assignment"] != assignment:
            reason = f"row is for assignment {data['assignment']!r}, not {assignment!r}"
        elif not student:
            reason = "no student"
        elif student not in students:
            reason = f"no graded submission for student {student!r}"
        elif part_id not in parts:
            reason = f"unknown part id {part_id!r} (free-text parts: {', '.join(manual_ids) or 'none'})"
        elif not parts[part_id].manual:
            reason = f"part {part_id!r} is autograded; only free-text parts take manual scores"
        else:
            try:
                score = float(raw_score)
                if score != score:  # NaN
                    raise ValueError
            except ValueError:
                reason = f"score {raw_score!r} is not a number"
            else:
                try:
                    check_score(score, parts[part_id].max_score)
                except ValueError as exc:
                    reason = f"{exc} (got {raw_score})"
        if reason is None and (student, part_id) in seen:
            reason = f"duplicate of line {seen[(student, part_id)]}"
        if reason is not None:
            bad.append(BadRow(line, reason, data))
            continue
        seen[(student, part_id)] = line
        good.append(
            ManualScore(
                assignment=assignment,
                student=student,
                part_id=part_id,
                score=float(raw_score),
                comment=data.get("comment", ""),
                grader=data.get("grader") or grader,
                at=utcnow(),
            )
        )
    if bad:
        return ImportResult([], bad)
    store.set_manual_scores(good)
    return ImportResult(good, bad)
