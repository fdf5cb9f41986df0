"""Manual grading of free-text parts: an interactive queue and a spreadsheet import.

`grader manual ASSIGNMENT` walks the queue part by part (every student's answer to one part,
then the next part), so one person marks one question consistently. Each score is stored the
moment it is entered; scored answers leave the queue, so a session can stop (`q`, Ctrl-D)
and resume later. `grader manual import scores.csv` takes columns student, part, score,
comment, checks every row, stores the good ones and lists the bad ones.
"""

from __future__ import annotations

import csv
import getpass
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.prompt import Prompt
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from grader.keys import key_path, read_key
from grader.models import Status, SubmissionReport
from grader.store.loading import raw_reports
from grader.store.models import ManualScore, Override

if TYPE_CHECKING:
    from grader.store.repository import Store


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def open_store(out: Path, db: str | None) -> Store:
    from grader.store.repository import Store  # SQLAlchemy is imported only when a command runs

    return Store.open(out, db)


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


# -- one entry ----------------------------------------------------------------------------------
SKIP, QUIT = "skip", "quit"
_ENTRY = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:[,;]\s*|\s+|$)(.*)$", re.S)


def parse_entry(text: str, max_score: float) -> tuple[float, str] | str:
    """`2.5, clear argument` -> (2.5, "clear argument"); `s` -> SKIP; `q` -> QUIT.

    Raises ValueError with a message for the person typing."""
    t = text.strip()
    if t.lower() in ("s", "skip"):
        return SKIP
    if t.lower() in ("q", "quit"):
        return QUIT
    m = _ENTRY.match(t)
    if not m:
        raise ValueError(f"start with a score from 0 to {max_score:g}, then a comment (or s to skip, q to quit)")
    score = float(m.group(1))
    check_score(score, max_score)
    return score, m.group(2).strip()


def check_score(score: float, max_score: float) -> None:
    if not (0 <= score <= max_score):
        raise ValueError(f"the score must be between 0 and {max_score:g}")


# -- the interactive session --------------------------------------------------------------------
@dataclass
class SessionResult:
    scored: int = 0
    skipped: int = 0
    remaining: int = 0
    quit: bool = False


def run_session(
    store: Store,
    assignment: str,
    items: list[QueueItem],
    *,
    grader: str,
    console: Console,
    prompts: dict[str, str] | None = None,
) -> SessionResult:
    prompts = prompts or {}
    result = SessionResult()
    current_part = None
    for n, item in enumerate(items, 1):
        if any(m.part_id == item.part_id for m in store.manual_scores(assignment, item.student)):
            continue  # another grader scored it since the queue was built
        if item.part_id != current_part:
            current_part = item.part_id
            console.rule(f"[bold]{escape(item.part_id)}[/] (out of {item.max_score:g})")
            if prompts.get(item.part_id):
                console.print(Text(prompts[item.part_id], style="italic"))
        console.print(
            Panel(Text(item.answer or "(empty)"), title=f"{escape(item.student)} · {escape(item.part_id)}", subtitle=f"{n} of {len(items)}")
        )
        while True:
            try:
                raw = Prompt.ask(f"score (0–{item.max_score:g}), comment, s=skip, q=quit", console=console)
            except EOFError:  # input ran out: stop like q, everything entered is already saved
                raw = "q"
            try:
                entry = parse_entry(raw, item.max_score)
            except ValueError as exc:
                console.print(f"[red]{escape(str(exc))}[/]")
                continue
            break
        if entry == QUIT:
            result.quit = True
            result.remaining = len(items) - n + 1
            break
        if entry == SKIP:
            result.skipped += 1
            continue
        score, comment = entry  # type: ignore[misc]
        store.set_manual_score(
            ManualScore(assignment=assignment, student=item.student, part_id=item.part_id, score=score, comment=comment, grader=grader, at=utcnow())
        )
        result.scored += 1
    return result


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


def import_scores(store: Store, out: Path | None, assignment: str, path: Path, *, grader: str) -> ImportResult:
    """Store every valid row of a (student, part, score, comment) CSV; list the others with why."""
    reports = raw_reports(store, out, assignment)
    parts = catalogue(reports)
    students = {r.student for r in reports}
    manual_ids = sorted(p.id for p in parts.values() if p.manual)
    good: list[ManualScore] = []
    bad: list[BadRow] = []
    seen: dict[tuple[str, str], int] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        headers = [(h or "").strip().lower() for h in reader.fieldnames or []]
        missing = {"student", "part", "score"} - set(headers)
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected student, part, score, comment")
        for row in reader:
            line = reader.line_num
            data = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
            student, part_id, raw_score = data.get("student", ""), data.get("part", ""), data.get("score", "")
            reason = None
            if not any(data.values()):
                continue  # a blank line in the spreadsheet
            if data.get("assignment") and data["assignment"] != assignment:
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
            entry = ManualScore(
                assignment=assignment,
                student=student,
                part_id=part_id,
                score=float(raw_score),
                comment=data.get("comment", ""),
                grader=data.get("grader") or grader,
                at=utcnow(),
            )
            store.set_manual_score(entry)
            good.append(entry)
    return ImportResult(good, bad)


# -- command line -------------------------------------------------------------------------------
class _GradeByDefault(TyperGroup):
    """`grader manual ASSIGNMENT` means `grader manual grade ASSIGNMENT`."""

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["grade", *args]
        return super().parse_args(ctx, args)


manual_app = typer.Typer(
    cls=_GradeByDefault,
    help="Score free-text parts by hand: `grader manual ASSIGNMENT`, or `grader manual import scores.csv`.",
    no_args_is_help=True,
)

OutOpt = Annotated[Path, typer.Option("--out", help="Output folder of `grader run` (holds grades.sqlite).")]
DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL or SQLite file (default OUT/grades.sqlite).")]


def default_grader() -> str:
    try:
        return os.environ.get("GRADER_NAME") or getpass.getuser()
    except Exception:  # no login name in some containers
        return "grader"


def _refresh(out: Path, db: str | None, assignment: str) -> None:
    """Rewrite the assignment's reports so they show the scores just recorded."""
    from grader.store.refresh import refresh_reports

    refresh_reports(out, db, assignment)


@manual_app.command("grade")
def grade_command(
    assignment: Annotated[str, typer.Argument(help="Assignment id, e.g. csc321-hw4.")],
    out: OutOpt = Path("out"),
    db: DbOpt = None,
    grader: Annotated[str | None, typer.Option("--grader", help="Your name, recorded with each score.")] = None,
    reference: Annotated[Path, typer.Option("--reference", help="Answer keys (for the question texts).")] = Path("reference"),
) -> None:
    """Score the queue of free-text answers, part by part; resumable."""
    console = Console(highlight=False, soft_wrap=True)
    with open_store(out, db) as store:
        items = manual_queue(store, out, assignment)
        if not items:
            known = raw_reports(store, out, assignment)
            if not known:
                console.print(f"[red]No graded submissions for {escape(assignment)} in {escape(str(out))}; run `grader run` first.[/]")
                raise typer.Exit(2)
            console.print(f"Nothing to score: every free-text answer to {escape(assignment)} has a score.")
            return
        console.print(f"{len(items)} free-text answer(s) to score for [bold]{escape(assignment)}[/].")
        result = run_session(
            store, assignment, items, grader=grader or default_grader(), console=console, prompts=part_prompts(reference, assignment)
        )
    console.print(
        f"Scored {result.scored}, skipped {result.skipped}"
        + (f"; {result.remaining} left for next time." if result.quit else ".")
    )
    if result.scored:
        _refresh(out, db, assignment)


@manual_app.command("import")
def import_command(
    scores: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV with columns student, part, score, comment.")],
    assignment: Annotated[str | None, typer.Option("--assignment", "-a", help="Assignment id (needed when the store holds several).")] = None,
    out: OutOpt = Path("out"),
    db: DbOpt = None,
    grader: Annotated[str | None, typer.Option("--grader", help="Recorded with rows that name no grader.")] = None,
) -> None:
    """Import manual scores from a spreadsheet; bad rows are listed, good rows kept. Exit 1 if any row was bad."""
    console = Console(highlight=False, soft_wrap=True)
    with open_store(out, db) as store:
        if assignment is None:
            known = store.assignments()
            if len(known) != 1:
                console.print("[red]Say which assignment with --assignment " + (f"(one of {', '.join(known)})" if known else "(the store is empty)") + ".[/]")
                raise typer.Exit(2)
            assignment = known[0]
        try:
            result = import_scores(store, out, assignment, scores, grader=grader or default_grader())
        except ValueError as exc:
            console.print(f"[red]{escape(str(exc))}[/]")
            raise typer.Exit(2)
    console.print(f"Imported {len(result.imported)} score(s) for {escape(assignment)}.")
    if result.bad:
        table = Table(title=f"{len(result.bad)} row(s) not imported", title_style="bold red")
        for col in ("line", "student", "part", "score", "reason"):
            table.add_column(col)
        for b in result.bad:
            table.add_row(str(b.line), b.row.get("student", ""), b.row.get("part", ""), b.row.get("score", ""), b.reason)
        console.print(table)
    if result.imported:
        _refresh(out, db, assignment)
    if result.bad:
        raise typer.Exit(1)


@manual_app.command("override")
def override_command(
    assignment: Annotated[str, typer.Argument()],
    student: Annotated[str, typer.Argument()],
    part: Annotated[str, typer.Argument()],
    score: Annotated[float, typer.Argument(help="The part's new score.")],
    reason: Annotated[str, typer.Option("--reason", help="Shown to the student with the score.")] = "",
    out: OutOpt = Path("out"),
    db: DbOpt = None,
    grader: Annotated[str | None, typer.Option("--grader")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Drop the override; the autograded score stands again.")] = False,
) -> None:
    """Replace the score of any part for one student (survives every re-run)."""
    console = Console(highlight=False, soft_wrap=True)
    with open_store(out, db) as store:
        parts = catalogue(raw_reports(store, out, assignment))
        if part not in parts:
            console.print(f"[red]Unknown part {escape(part)!r} of {escape(assignment)}.[/]")
            raise typer.Exit(2)
        if remove:
            store.delete_override(assignment, student, part)
        else:
            try:
                check_score(score, parts[part].max_score)
            except ValueError as exc:
                console.print(f"[red]{escape(str(exc))}[/]")
                raise typer.Exit(2)
            store.set_override(
                Override(assignment=assignment, student=student, part_id=part, score=score, reason=reason, grader=grader or default_grader(), at=utcnow())
            )
    console.print(("Removed the override on " if remove else f"Set {score:g} on ") + f"{escape(student)} · {escape(part)}.")
    _refresh(out, db, assignment)
