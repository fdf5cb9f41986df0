"""What a gradebook export is: a name, a file suffix, a render function and the options it takes.

Each format is one module beside this one that defines `EXPORT = Export(...)`; the table in
grader.lms.exports lists them, and the command line makes `grader export NAME ASSIGNMENT`
from each entry (its options become flags). A format renders the class's current reports
(manual scores merged) to text and may warn (students a roster cannot identify, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from grader.models import Status, SubmissionReport


class ExportText(NamedTuple):
    text: str
    warnings: list[str]


@dataclass(frozen=True)
class Option:
    """A format's own option: `--canvas-id ID` (default None), `--feedback` (default False), or
    one of `choices` (default the first)."""

    flag: str
    help: str
    default: str | bool | None = None
    choices: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The keyword `render` receives."""
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Export:
    name: str
    suffix: str  # of the file written by default: OUT/<assignment>/exports/<assignment><suffix>
    summary: str  # one line for --help
    #: render(reports, *, title, roster, now, **options): title is the LMS's assignment name,
    #: roster maps student ids to LMS ids (grader.lms.roster), now is the export time.
    render: Callable[..., ExportText]
    title: bool = False  # the LMS needs an assignment name (--title, default the key's)
    roster: bool = False  # students are matched through a roster (--roster)
    options: tuple[Option, ...] = ()

    def __call__(self, reports: Sequence[SubmissionReport], **kwargs: Any) -> ExportText:
        return self.render(reports, **kwargs)


def pending_warnings(reports: Sequence[SubmissionReport]) -> list[str]:
    """For gradebooks that take a total: students whose written parts nobody has scored yet."""
    pending = [r.student for r in reports if any(p.status is Status.manual for p in r.parts)]
    if not pending:
        return []
    shown = ", ".join(pending[:10]) + ("…" if len(pending) > 10 else "")
    return [f"{len(pending)} student(s) still have free-text parts awaiting a grader (`grader manual`): {shown}"]
