"""Manual grading of free-text parts and overrides: the queue, recording scores, a spreadsheet import.

The queue runs part by part (every student's answer to one part, then the next part), so one
person marks one question consistently; scored answers leave it, so a session can stop and
resume later. A part's rubric (from the answer key, `ManualPart`) lets a grader pick items by
number: `record_manual_score` is the one way a score is recorded (the terminal, the import and
the service alike). `import_scores` takes a CSV with columns student, part, score (or items),
comment, checks every row first, then stores them all in one transaction, or none and lists
the bad ones. After any of these, the run's files are brought up to date by
`grader.workflow.refresh`. The terminal session over the queue is
`grader manual` (grader.cli.manual); the service grades the same queue in the browser.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from grader.keys.build import key_path, read_key
from grader.models import RubricItem, Status, SubmissionReport
from grader.store.loading import raw_reports
from grader.store.models import ManualScore, Override, RubricPick
from grader.store.repository import utcnow

if TYPE_CHECKING:
    from grader.store.repository import Store


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


@dataclass(frozen=True)
class ManualPart:
    """What a person grading one free-text part is shown and picks from (from the answer key)."""

    id: str
    max_score: float
    prompt: str = ""
    rubric: tuple[RubricItem, ...] = ()
    comments: tuple[str, ...] = ()
    model_answer: str = ""


def manual_parts(reference: Path | None, assignment: str) -> dict[str, ManualPart]:
    """The free-text parts of the assignment's answer key, with their rubrics (none without a key)."""
    if reference is None:
        return {}
    try:
        key = read_key(key_path(reference, assignment))
    except (OSError, ValueError):
        return {}
    return {
        p.id: ManualPart(p.id, p.marks, p.prompt, tuple(p.rubric), tuple(p.comments), p.model_answer) for p in key.parts if p.manual
    }


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


def pick_items(part: ManualPart, numbers: Iterable[int]) -> tuple[float, list[RubricPick]]:
    """The score of rubric items picked by number (from 1): their marks summed, kept within
    0 and the part's marks (a deduction never takes it below 0). Raises ValueError for a
    number the rubric does not have or one picked twice."""
    picked: list[RubricPick] = []
    for n in numbers:
        if not 1 <= n <= len(part.rubric):
            have = f"items 1 to {len(part.rubric)}" if part.rubric else "no rubric items"
            raise ValueError(f"part {part.id} has {have}; there is no item {n}")
        if any(p.number == n for p in picked):
            raise ValueError(f"item {n} is picked twice")
        item = part.rubric[n - 1]
        picked.append(RubricPick(number=n, text=item.text, marks=item.marks))
    total = math.fsum(p.marks for p in picked)
    return min(max(total, 0.0), part.max_score), sorted(picked, key=lambda p: p.number)


def compose_comment(part: ManualPart, numbers: Iterable[int] = (), free: str = "") -> str:
    """The comment the student sees: the part's reusable comments picked by number, then free text."""
    texts = []
    for n in numbers:
        if not 1 <= n <= len(part.comments):
            have = f"comments 1 to {len(part.comments)}" if part.comments else "no reusable comments"
            raise ValueError(f"part {part.id} has {have}; there is no comment {n}")
        texts.append(part.comments[n - 1])
    return " ".join(t.strip() for t in [*texts, free] if t.strip())


def record_manual_score(
    store: Store | None,
    assignment: str,
    student: str,
    part: ManualPart,
    *,
    items: Sequence[int] = (),
    score: float | None = None,
    comment: str = "",
    comment_numbers: Sequence[int] = (),
    grader: str,
) -> ManualScore:
    """Store a person's score for one student's answer to a free-text part.

    Either `items` (rubric item numbers, from 1: the score is their marks' sum, capped to the
    part's marks) or a typed `score` (0 to the part's marks); `comment_numbers` pick the part's
    reusable comments, `comment` is free text after them. Raises ValueError for anything the
    part does not allow. Scores and picked items survive every re-run."""
    if items and score is not None:
        raise ValueError("give rubric items or a score, not both")
    if score is None and not items:
        raise ValueError(f"give a score from 0 to {part.max_score:g}" + (" or rubric items" if part.rubric else ""))
    picked: list[RubricPick] = []
    if items:
        score, picked = pick_items(part, items)
    else:
        check_score(score, part.max_score)  # type: ignore[arg-type]
    text = compose_comment(part, comment_numbers, comment)
    entry = ManualScore(
        assignment=assignment, student=student, part_id=part.id, score=score, comment=text, grader=grader, at=utcnow(), items=picked
    )
    if store is not None:  # None: checked and built only (an import stores its rows together)
        store.set_manual_score(entry)
    return entry


def record_score(store: Store, assignment: str, item: QueueItem, score: float, comment: str, *, grader: str) -> ManualScore:
    """Store a typed score for one queued answer (checked against the part's marks)."""
    return record_manual_score(store, assignment, item.student, ManualPart(item.part_id, item.max_score), score=score, comment=comment, grader=grader)


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


def parse_item_numbers(text: str) -> list[int]:
    """`1,3` or `1 3` or `1;3` -> [1, 3]. Raises ValueError naming what is not a number."""
    numbers = []
    for token in re.split(r"[\s,;]+", text.strip()):
        if not token:
            continue
        if not token.isdigit():
            raise ValueError(f"rubric item {token!r} is not a number (write item numbers such as 1,3)")
        numbers.append(int(token))
    return numbers


# A scores spreadsheet is a few hundred rows; these bound what a bad file can cost.
MAX_IMPORT_BYTES = 16 * 2**20
MAX_ID_CHARS = 200  # the store's student and part columns
MAX_COMMENT_CHARS = 20_000
EXTRA = "\0extra"  # a key no header can have: how many cells a row had beyond the columns


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
        missing = {"student", "part"} - set(headers)
        if missing or not {"score", "items"} & set(headers):
            wanted = sorted(missing | ({"score"} if not {"score", "items"} & set(headers) else set()))
            raise ValueError(f"{path}: missing column(s) {', '.join(wanted)}; expected student, part, score (or items), comment")
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


def _too_long(data: dict[str, str]) -> str | None:
    limits = {"student": MAX_ID_CHARS, "part": MAX_ID_CHARS, "grader": MAX_ID_CHARS, "comment": MAX_COMMENT_CHARS, "score": 50, "items": 200}
    for column, limit in limits.items():
        if len(data.get(column, "")) > limit:
            return f"the {column} cell is longer than {limit} characters"
    return None


def import_scores(
    store: Store, out: Path | None, assignment: str, path: Path, *, grader: str, reference: Path | None = None
) -> ImportResult:
    """Check every row of a (student, part, score, comment[, items]) CSV first; if all are
    good, store them in one transaction, else store none and list the bad ones with why (a
    file is never half imported, and importing it again once fixed is safe). `items` holds
    rubric item numbers (`1,3`): the score is then their marks' sum (the rubric from the
    answer key in `reference`), and a score given beside them must agree."""
    reports = raw_reports(store, out, assignment)
    parts = catalogue(reports)
    rubrics = manual_parts(reference, assignment)
    students = {r.student for r in reports}
    manual_ids = sorted(p.id for p in parts.values() if p.manual)
    good: list[ManualScore] = []
    bad: list[BadRow] = []
    seen: dict[tuple[str, str], int] = {}
    for line, data in read_rows(Path(path)):
        student, part_id, raw_score, raw_items = data.get("student", ""), data.get("part", ""), data.get("score", ""), data.get("items", "")
        reason = None
        picked: list[RubricPick] = []
        score: float | None = None
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
            part = rubrics.get(part_id) or ManualPart(part_id, parts[part_id].max_score)
            try:
                score, picked = _row_score(part, raw_score, raw_items)
            except ValueError as exc:
                reason = str(exc)
        if reason is None and (student, part_id) in seen:
            reason = f"duplicate of line {seen[(student, part_id)]}"
        if reason is not None:
            bad.append(BadRow(line, reason, data))
            continue
        seen[(student, part_id)] = line
        entry = record_manual_score(  # checked and built, not stored yet
            None, assignment, student, part,
            items=[p.number for p in picked], score=None if picked else score,
            comment=data.get("comment", ""), grader=data.get("grader") or grader,
        )
        good.append(entry)
    if bad:
        return ImportResult([], bad)
    store.set_manual_scores(good)
    return ImportResult(good, bad)


def _row_score(part: ManualPart, raw_score: str, raw_items: str) -> tuple[float, list[RubricPick]]:
    """A spreadsheet row's score: from its rubric items when it has some, else as typed."""
    typed: float | None = None
    if raw_score:
        try:
            typed = float(raw_score)
            if typed != typed:  # NaN
                raise ValueError
        except ValueError:
            raise ValueError(f"score {raw_score!r} is not a number") from None
    if raw_items:
        score, picked = pick_items(part, parse_item_numbers(raw_items))
        if typed is not None and not math.isclose(typed, score, abs_tol=1e-9):
            raise ValueError(f"score {raw_score} disagrees with rubric items {raw_items} (worth {score:g})")
        return score, picked
    if typed is None:
        raise ValueError("no score and no rubric items")
    try:
        check_score(typed, part.max_score)
    except ValueError as exc:
        raise ValueError(f"{exc} (got {raw_score})") from None
    return typed, []
