"""`grader manual`: score free-text parts in the terminal, import scores, override any part.

`grader manual ASSIGNMENT` walks the queue of grader.workflow.manual part by part; each score
is stored the moment it is entered, so a session can stop (`q`, Ctrl-D) and resume later.
`grader manual import scores.csv` and `grader manual override` go through the same workflow;
after each, the run's files are refreshed to show the new scores.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass
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

from grader.cli import options
from grader.cli.options import CourseOpt, DbOpt, OutOpt, course_of
from grader.store.loading import raw_reports
from grader.workflow.manual import (
    ManualPart,
    QueueItem,
    already_scored,
    check_score,
    import_scores,
    manual_parts,
    manual_queue,
    record_manual_score,
    set_override,
)

if TYPE_CHECKING:
    from grader.store.repository import Store
    from grader.course import Course


def open_store(out: Path, db: str | None) -> Store:
    return options.open_store(out, db)


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


@dataclass(frozen=True)
class Entry:
    """What a person typed for one answer: rubric items or a score, comment numbers, free text."""

    items: tuple[int, ...] = ()
    score: float | None = None
    comment_numbers: tuple[int, ...] = ()
    comment: str = ""


_PICK = re.compile(r"^\s*((?:\d+\s*[,;\s]\s*)*\d+)?\s*((?:[cC]\d+\s*[,;\s]?\s*)*)(.*)$", re.S)
_EXPLICIT = re.compile(r"^\s*=\s*")


def read_entry(text: str, part: ManualPart) -> Entry | str:
    """One answer's entry. For a part with a rubric: item numbers, then `cN` for a reusable
    comment, then free text (`1,3 c2 clear, but no example`); `=2.5 ...` types a score instead,
    `0` means no item earned. For a part without one: a score, then the same (`2.5 c1 good`).
    `s` skips, `q` quits. Raises ValueError with a message for the person typing."""
    t = text.strip()
    if t.lower() in ("s", "skip", "q", "quit"):
        return SKIP if t.lower().startswith("s") else QUIT
    if not part.rubric or _EXPLICIT.match(t):
        scored = parse_entry(_EXPLICIT.sub("", t), part.max_score)
        if not isinstance(scored, tuple):
            raise ValueError(f"start with a score from 0 to {part.max_score:g}")
        score, rest = scored
        numbers, free = _comments(rest)
        return Entry(score=score, comment_numbers=numbers, comment=free)
    m = _PICK.match(t)
    if not m or not m.group(1):
        raise ValueError(f"start with rubric item numbers (1 to {len(part.rubric)}, e.g. 1,3), =score to type a score, s to skip, q to quit")
    items = tuple(int(n) for n in re.split(r"[\s,;]+", m.group(1).strip()))
    numbers, free = _comments(m.group(2) + m.group(3))
    if items == (0,):
        return Entry(score=0.0, comment_numbers=numbers, comment=free)
    return Entry(items=items, comment_numbers=numbers, comment=free)


def _comments(text: str) -> tuple[tuple[int, ...], str]:
    """Leading `c2 c3` comment numbers, and the free comment after them."""
    numbers = []
    rest = text.strip()
    while (m := re.match(r"^[cC](\d+)\b[\s,;]*", rest)) is not None:
        numbers.append(int(m.group(1)))
        rest = rest[m.end():]
    return tuple(numbers), rest.strip()


# -- the interactive session --------------------------------------------------------------------
@dataclass
class SessionResult:
    scored: int = 0
    skipped: int = 0
    remaining: int = 0
    quit: bool = False


#: Answers longer than this many lines (or characters) open in a pager when in a terminal.
PAGER_LINES, PAGER_CHARS = 30, 3000


def show_part(console: Console, part: ManualPart) -> None:
    """A part's heading: the whole prompt, its model answer, its rubric and reusable comments."""
    console.rule(f"[bold]{escape(part.id)}[/] (out of {part.max_score:g})")
    if part.prompt:
        console.print(Text(part.prompt, style="italic"), soft_wrap=False)
    if part.model_answer:
        console.print(Panel(Text(part.model_answer), title="model answer", border_style="green"), soft_wrap=False)
    if part.rubric:
        table = Table(title="rubric: type the numbers of the items the answer earns, e.g. 1,3", title_justify="left")
        for col in ("#", "item", "marks"):
            table.add_column(col)
        for i, item in enumerate(part.rubric, 1):
            table.add_row(str(i), Text(item.text), f"{item.marks:+g}")
        console.print(table)
    if part.comments:
        console.print("Comments (type c1, c2, ... after the items or score):")
        for i, comment in enumerate(part.comments, 1):
            console.print(Text(f"  c{i}  {comment}"))


def show_answer(console: Console, item: QueueItem, n: int, total: int) -> None:
    """The whole answer, wrapped to the terminal; a long one in a pager when there is a terminal."""
    panel = Panel(Text(item.answer or "(empty)"), title=f"{escape(item.student)} · {escape(item.part_id)}", subtitle=f"{n} of {total}")
    long = item.answer.count("\n") >= PAGER_LINES or len(item.answer) > PAGER_CHARS
    if long and console.is_terminal:
        with console.pager(styles=True):
            console.print(panel, soft_wrap=False)
    else:
        console.print(panel, soft_wrap=False)  # wrapped to the width, whatever the console's default


def run_session(
    store: Store,
    assignment: str,
    items: list[QueueItem],
    *,
    grader: str,
    console: Console,
    parts: dict[str, ManualPart] | None = None,
) -> SessionResult:
    parts = parts or {}
    result = SessionResult()
    current_part = None
    for n, item in enumerate(items, 1):
        if already_scored(store, assignment, item):
            continue  # another grader scored it since the queue was built
        part = parts.get(item.part_id) or ManualPart(item.part_id, item.max_score)
        if item.part_id != current_part:
            current_part = item.part_id
            show_part(console, part)
        show_answer(console, item, n, len(items))
        ask = f"items (1–{len(part.rubric)}) or =score" if part.rubric else f"score (0–{item.max_score:g})"
        while True:
            try:
                raw = Prompt.ask(f"{ask}, comment, s=skip, q=quit", console=console)
            except EOFError:  # input ran out: stop like q, everything entered is already saved
                raw = "q"
            try:
                entry = read_entry(raw, part)
                if isinstance(entry, Entry):
                    record_manual_score(
                        store, assignment, item.student, part, items=entry.items, score=entry.score,
                        comment=entry.comment, comment_numbers=entry.comment_numbers, grader=grader,
                    )
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
        result.scored += 1
    return result


# -- commands -----------------------------------------------------------------------------------
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


def default_grader() -> str:
    try:
        return os.environ.get("GRADER_NAME") or getpass.getuser()
    except Exception:  # no login name in some containers
        return "grader"


def _refresh(out: Path, db: str | None, assignment: str, course: "Course") -> None:
    """Rewrite the assignment's reports so they show the scores just recorded, at the feedback
    level the command's own course (its --course, as `grader run` finds it) sets now."""
    from grader.run.output import UsageError
    from grader.workflow.refresh import refresh_reports

    try:
        refresh_reports(out, db, assignment, course)
    except UsageError as exc:  # the scores are recorded; only the files on disk wait
        Console(stderr=True).print(f"[yellow]Scores recorded in the store, but the reports in {escape(str(out))} were not rewritten: {escape(str(exc))}.[/] "
                                   "The next `grader run` writes them with it.")


@manual_app.command("grade")
def grade_command(
    assignment: Annotated[str, typer.Argument(help="Assignment id, e.g. csc321-hw4.")],
    out: OutOpt = None,
    db: DbOpt = None,
    grader: Annotated[str | None, typer.Option("--grader", help="Your name, recorded with each score.")] = None,
    reference: Annotated[
        Path | None, typer.Option("--reference", help="Answer keys (question texts, rubrics, model answers) [default: the course's].", show_default=False)
    ] = None,
    course: CourseOpt = None,
) -> None:
    """Score the queue of free-text answers, part by part; resumable.

    Each answer is shown whole (in a pager when long), with the part's model answer and rubric.
    For a part with a rubric type the numbers of the items it earns (`1,3`), then `c2` for a
    reusable comment and any remark (`1,3 c2 clear`); `=2.5` types a score instead, `0` gives
    none. Without a rubric: a score, then a comment (`2.5 clear`). `s` skips, `q` stops."""
    console = Console(highlight=False, soft_wrap=True)
    the_course = course_of(course, reference=reference, out=out, db=db)
    out, db, reference = the_course.out, the_course.store, the_course.reference
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
            store, assignment, items, grader=grader or default_grader(), console=console, parts=manual_parts(reference, assignment)
        )
    console.print(
        f"Scored {result.scored}, skipped {result.skipped}"
        + (f"; {result.remaining} left for next time." if result.quit else ".")
    )
    if result.scored:
        _refresh(out, db, assignment, the_course)


@manual_app.command("import")
def import_command(
    scores: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV with columns student, part, score (or items), comment.")],
    assignment: Annotated[str | None, typer.Option("--assignment", "-a", help="Assignment id (needed when the store holds several).")] = None,
    out: OutOpt = None,
    db: DbOpt = None,
    grader: Annotated[str | None, typer.Option("--grader", help="Recorded with rows that name no grader.")] = None,
    reference: Annotated[
        Path | None, typer.Option("--reference", help="Answer keys (the rubrics an items column picks from) [default: the course's].", show_default=False)
    ] = None,
    course: CourseOpt = None,
) -> None:
    """Import manual scores from a spreadsheet (columns student, part, score, comment; an items
    column such as `1,3` picks rubric items instead of a score). Every row is checked first: all
    are imported, or, if any is bad, none (the bad rows are listed; exit 1). Exit 2 if the file
    cannot be read."""
    console = Console(highlight=False, soft_wrap=True)
    the_course = course_of(course, reference=reference, out=out, db=db)
    out, db, reference = the_course.out, the_course.store, the_course.reference
    with open_store(out, db) as store:
        if assignment is None:
            known = store.assignments()
            if len(known) != 1:
                console.print("[red]Say which assignment with --assignment " + (f"(one of {', '.join(known)})" if known else "(the store is empty)") + ".[/]")
                raise typer.Exit(2)
            assignment = known[0]
        try:
            result = import_scores(store, out, assignment, scores, grader=grader or default_grader(), reference=reference)
        except ValueError as exc:
            console.print(f"[red]{escape(str(exc))}[/]")
            raise typer.Exit(2)
    if result.bad:
        console.print(f"Nothing imported for {escape(assignment)}: fix the rows below and import the file again.")
        table = Table(title=f"{len(result.bad)} bad row(s)", title_style="bold red")
        for col in ("line", "student", "part", "score", "reason"):
            table.add_column(col)
        for b in result.bad:
            table.add_row(*(Text(cell) for cell in (str(b.line), b.row.get("student", ""), b.row.get("part", ""), b.row.get("score", ""), b.reason)))
        console.print(table)
    else:
        console.print(f"Imported {len(result.imported)} score(s) for {escape(assignment)}.")
    if result.imported:
        _refresh(out, db, assignment, the_course)
    if result.bad:
        raise typer.Exit(1)


@manual_app.command("override")
def override_command(
    assignment: Annotated[str, typer.Argument()],
    student: Annotated[str, typer.Argument()],
    part: Annotated[str, typer.Argument()],
    score: Annotated[float, typer.Argument(help="The part's new score.")],
    reason: Annotated[str, typer.Option("--reason", help="Shown to the student with the score.")] = "",
    out: OutOpt = None,
    db: DbOpt = None,
    grader: Annotated[str | None, typer.Option("--grader")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Drop the override; the autograded score stands again.")] = False,
    course: CourseOpt = None,
) -> None:
    """Replace the score of any part for one student (survives every re-run)."""
    console = Console(highlight=False, soft_wrap=True)
    the_course = course_of(course, out=out, db=db)
    out, db = the_course.out, the_course.store
    with open_store(out, db) as store:
        try:
            set_override(
                store, out, assignment, student, part, None if remove else score, reason=reason, grader=grader or default_grader()
            )
        except (LookupError, ValueError) as exc:
            console.print(f"[red]{escape(str(exc))}[/]")
            raise typer.Exit(2)
    console.print(("Removed the override on " if remove else f"Set {score:g} on ") + f"{escape(student)} · {escape(part)}.")
    _refresh(out, db, assignment, the_course)
