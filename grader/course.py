"""The course file, `grader.toml`: where a course's folders are and how each assignment runs.

A course is a folder with a `grader.toml` at its root. The `grader` command finds it from
`--course DIR` (or the file itself), else the `GRADER_COURSE` environment variable, else the
current directory or the nearest parent that has one. Paths in the file are relative to the
folder the file is in, so an installed `grader` works from anywhere::

    [course]
    title = "Deep learning, spring term"
    timezone = "America/Toronto"      # for due dates written without an offset
    roster = "roster.csv"             # the class list (docs/course.md)

    [defaults]                        # every assignment, unless it says otherwise
    feedback = { before_due = "mistakes", after_due = "reference" }
    late = { per_day = 0.1, cutoff_days = 7 }

    [assignments.csc321-hw4]
    due = 2020-03-12T21:30:00-04:00

Without a course file the folders default to `problems/`, `reference/`, `submissions/` and
`out/` under the current directory, as before. The file is read once into pydantic models;
`grader course check` turns each validation error into one line naming the setting.
"""

from __future__ import annotations

import math
import os
import tomllib
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from grader.models import FeedbackLevel  # a file-format value: reports are filtered by it
from grader.models import Late, SubmissionReport

COURSE_FILE = "grader.toml"
COURSE_ENV = "GRADER_COURSE"
MAX_COURSE_FILE_BYTES = 1024 * 1024


class CourseError(Exception):
    """The course file is missing, unreadable or invalid; `problems` has one line per mistake."""

    def __init__(self, path: Path | None, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        where = f"{path}: " if path else ""
        super().__init__("\n".join(where + p for p in problems))


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedbackPolicy(_Settings):
    """What students see before and after the due date (issue: nothing reveals the key early)."""

    before_due: FeedbackLevel = FeedbackLevel.mistakes
    after_due: FeedbackLevel = FeedbackLevel.reference

    def level(self, due: datetime | None, now: datetime) -> FeedbackLevel:
        """The level in force at `now`; an assignment without a due date is always before it."""
        return self.after_due if due is not None and now >= due else self.before_due


class Lateness(BaseModel):
    """How late one submission was and what that costs."""

    late_by: timedelta = timedelta(0)
    days: int = Field(0, description="Started days late, after any grace period.")
    factor: float = Field(1.0, description="Multiplies the score.")
    refused: bool = Field(False, description="After the cut-off: the submission earns nothing.")

    @property
    def late(self) -> bool:
        return self.days > 0 or self.refused

    def describe(self) -> str:
        """`submitted 26 h late: × 0.8`, for reports."""
        if not self.late:
            return "on time"
        hours = self.late_by.total_seconds() / 3600
        if hours < 1:
            span = f"{max(1, round(hours * 60))} min"
        else:
            span = f"{hours:.0f} h" if hours < 48 else f"{round(hours / 24, 1):g} days"
        if self.refused:
            return f"submitted {span} late, after the cut-off: not credited"
        return f"submitted {span} late: × {self.factor:g}"


class LatePolicy(_Settings):
    """Full marks until the due date (plus `grace_minutes`); then `per_day` of the score is lost
    per started day late, down to `minimum`; after `cutoff_days` the submission earns nothing."""

    per_day: float = Field(0.0, ge=0, le=1, description="Share of the score lost per started day late.")
    grace_minutes: float = Field(0.0, ge=0)
    cutoff_days: float | None = Field(None, ge=0, description="Days after the due date after which nothing is credited.")
    minimum: float = Field(0.0, ge=0, le=1, description="The factor never drops below this (before the cut-off).")

    def apply(self, submitted_at: datetime | None, due: datetime | None) -> Lateness:
        if submitted_at is None or due is None:
            return Lateness()
        late_by = _aware(submitted_at) - due
        if late_by <= timedelta(minutes=self.grace_minutes):
            return Lateness(late_by=max(late_by, timedelta(0)))
        if self.cutoff_days is not None and late_by > timedelta(days=self.cutoff_days):
            return Lateness(late_by=late_by, days=math.ceil(late_by / timedelta(days=1)), factor=0.0, refused=True)
        days = math.ceil((late_by - timedelta(minutes=self.grace_minutes)) / timedelta(days=1))
        factor = max(self.minimum, round(1.0 - self.per_day * days, 6))
        return Lateness(late_by=late_by, days=days, factor=factor)


class AssignmentSettings(_Settings):
    """One assignment of the course. Unset fields take the course's `[defaults]`."""

    problem_set: str | None = Field(
        None, description="The problem set graded under this id (default: the same id); lets one set run twice, e.g. with variants on."
    )
    title: str | None = None
    due: datetime | None = None
    late: LatePolicy | None = None
    feedback: FeedbackPolicy | None = None
    variants: bool | None = Field(None, description="Per-student numbers (each student gets their own variant).")
    variant_version: int | None = Field(None, ge=1, description="Bump to deal every student new numbers (default 1).")
    attempts: int | None = Field(None, ge=1, description="Submissions a student may make in the service (default: unlimited).")
    roster: Path | None = Field(None, description="This assignment's class list, if not the course's.")


class Assignment(BaseModel):
    """An assignment's settings with the defaults filled in and paths made absolute."""

    model_config = ConfigDict(frozen=True)

    id: str
    problem_set: str
    title: str | None = None
    due: datetime | None = None
    late: LatePolicy = LatePolicy()
    feedback: FeedbackPolicy = FeedbackPolicy()
    variants: bool = False
    variant_version: int = 1
    attempts: int | None = None
    roster: Path | None = None

    def feedback_level(self, now: datetime | None = None) -> FeedbackLevel:
        return self.feedback.level(self.due, now or datetime.now(timezone.utc))

    def lateness(self, submitted_at: datetime | None) -> Lateness:
        return self.late.apply(submitted_at, self.due)

    def late_report(self, report: SubmissionReport) -> SubmissionReport:
        """The report with this assignment's late policy applied from its `submitted_at`: a late
        one gets `late` (what the policy did, the raw score) and the late-adjusted `score`;
        one on time (or without a due date or time) is returned as it is."""
        try:
            lateness = self.lateness(report.submitted_at)
        except (OverflowError, ValueError):  # an extreme submitted_at: nothing to compare
            return report
        if not lateness.late or self.due is None or report.submitted_at is None:
            return report
        raw = round(math.fsum(p.score for p in report.parts), 6)
        late = Late(
            due=self.due,
            submitted_at=report.submitted_at,
            hours_late=round(lateness.late_by.total_seconds() / 3600, 2),
            days=lateness.days,
            factor=lateness.factor,
            refused=lateness.refused,
            raw_score=raw,
            note=lateness.describe(),
        )
        return report.model_copy(update={"late": late, "score": late.applied(raw)})


class CourseSection(_Settings):
    title: str = ""
    timezone: str = "UTC"
    problems: Path = Path("problems")
    reference: Path = Path("reference")
    submissions: Path = Path("submissions")
    out: Path = Path("out")
    store: str | None = Field(None, description="SQLAlchemy URL or SQLite file of the grade store (default: OUT/grades.sqlite).")
    roster: Path | None = None
    secret: Path = Field(Path(".grader/secret"), description="The course secret that seeds per-student variants; never commit it.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Europe/London' or 'UTC')") from None
        return value


class QueueSection(_Settings):
    """`[queue]`: grading on workers through a message broker (`grader serve --broker`,
    `grader worker`; docs/service.md). Without a broker everything is graded in-process."""

    broker: str | None = Field(None, description="Celery broker URL: redis://HOST:6379/0 (or amqp://USER:PASS@HOST:5672//); $GRADER_BROKER_URL and --broker win over it.")
    prefix: str = Field("", max_length=100, pattern=r"^[A-Za-z0-9_.:-]*$", description="Redis: a prefix of every key the queue writes (several courses on one Redis database).")
    name: str = Field("grader", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$", description="The broker queue the course's jobs go through.")
    wait: float = Field(3.0, ge=0, le=60, description="Seconds a submission waits for its grade before it is answered 202 (queued).")
    lease: float = Field(30.0, ge=1, le=3600, description="Seconds a worker's claim on a job lasts unless renewed (a dead worker's job is re-queued after it).")
    attempts: int = Field(3, ge=1, le=20, description="Claims of one job before it is failed.")
    sweep_every: float = Field(10.0, gt=0, le=3600, description="Seconds between a worker's sweeps for jobs whose lease ran out.")
    time_limit: float | None = Field(None, gt=0, le=86400, description="Seconds: a cap on every task's soft time limit (default: each assignment's worst case from its parts and the budget).")
    lost_after: float = Field(120.0, gt=0, le=86400, description="Seconds after which a queued job not taken is sent again, when the broker's queue is empty (a broker restarted without its messages).")


class CourseFile(_Settings):
    """`grader.toml` as written."""

    course: CourseSection = CourseSection()
    queue: QueueSection = QueueSection()
    defaults: AssignmentSettings = AssignmentSettings()
    assignments: dict[str, AssignmentSettings] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _dates_in_course_zone(cls, data: Any) -> Any:
        """Due dates without an offset (or plain days) are in the course's time zone."""
        if not isinstance(data, dict):
            return data
        course = data.get("course") if isinstance(data.get("course"), dict) else {}
        try:
            zone = ZoneInfo(str(course.get("timezone", "UTC")))
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")  # the field validator reports the bad name
        assignments = data.get("assignments")
        sections = [data.get("defaults"), *(assignments.values() if isinstance(assignments, dict) else ())]
        for section in sections:
            if isinstance(section, dict) and "due" in section:
                section["due"] = _due_date(section["due"], zone)
        return data


def _due_date(value: Any, zone: ZoneInfo) -> Any:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        except ValueError:
            return value  # pydantic reports it
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if isinstance(value, date):  # a day: due at its end
        return datetime.combine(value, time(23, 59, 59), tzinfo=zone)
    if isinstance(value, time):
        raise ValueError("a due date needs a day, not only a time")
    return value


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


class Course(BaseModel):
    """A course, resolved: absolute folders and every assignment's settings with defaults applied."""

    model_config = ConfigDict(frozen=True)

    root: Path
    file: Path | None = Field(None, description="The grader.toml read (None: defaults, no course file).")
    title: str = ""
    timezone: str = "UTC"
    problems: Path
    reference: Path
    submissions: Path
    out: Path
    store: str | None = None
    roster: Path | None = None
    secret: Path
    defaults: Assignment
    assignments: dict[str, Assignment] = Field(default_factory=dict)
    queue: QueueSection = QueueSection()

    def assignment(self, assignment_id: str) -> Assignment:
        """The settings of an assignment; one the file does not list takes the defaults."""
        found = self.assignments.get(assignment_id)
        return found if found is not None else self.defaults.model_copy(update={"id": assignment_id, "problem_set": assignment_id})

    def check(self, problem_sets: Iterable[str]) -> list[str]:
        """Mistakes that need the problem sets to see: an assignment whose set does not exist."""
        known = sorted(set(problem_sets))
        problems = []
        for a in self.assignments.values():
            if a.problem_set not in known:
                what = f"its problem_set {a.problem_set!r}" if a.problem_set != a.id else "it"
                problems.append(f"assignments.{a.id}: unknown assignment: {what} is not a problem set in {self.problems} (known: {', '.join(known) or 'none'})")
            if a.roster is not None and a.roster != self.roster and not a.roster.is_file():  # its own, not the course's
                problems.append(f"assignments.{a.id}.roster: no such file {a.roster}")
        if self.roster is not None and not self.roster.is_file():
            problems.append(f"course.roster: no such file {self.roster}")
        return problems


def find_course_file(explicit: Path | str | None = None, cwd: Path | None = None) -> Path | None:
    """The course file named by `--course`, else `GRADER_COURSE`, else the nearest one at or above `cwd`.

    Raises CourseError when a named course does not exist: a typo must not silently fall back."""
    named = explicit if explicit not in (None, "") else os.environ.get(COURSE_ENV) or None
    if named is not None:
        path = Path(named).expanduser()
        candidate = path / COURSE_FILE if path.is_dir() else path
        if not candidate.is_file():
            source = "--course" if explicit not in (None, "") else COURSE_ENV
            raise CourseError(None, [f"{source} {named}: no {COURSE_FILE} there"])
        return candidate.resolve()
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / COURSE_FILE).is_file():
            return folder / COURSE_FILE
    return None


def load_course(explicit: Path | str | None = None, cwd: Path | None = None) -> Course:
    """The course in force (see `find_course_file`); without a file, today's defaults under `cwd`."""
    path = find_course_file(explicit, cwd)
    if path is None:
        return resolve(CourseFile(), (cwd or Path.cwd()).resolve(), None)
    return read_course_file(path)


def read_course_file(path: Path) -> Course:
    path = Path(path)
    try:
        if path.stat().st_size > MAX_COURSE_FILE_BYTES:
            raise CourseError(path, [f"the course file is larger than {MAX_COURSE_FILE_BYTES // 1024} KB"])
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CourseError(path, [f"cannot read the course file: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise CourseError(path, ["the course file is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(path, [f"invalid TOML: {exc}"]) from None
    try:
        parsed = CourseFile.model_validate(data)
    except ValidationError as exc:
        raise CourseError(path, [_explain(error) for error in exc.errors()]) from None
    return resolve(parsed, path.parent.resolve(), path.resolve())


def _explain(error: Any) -> str:
    """One pydantic error as a line an instructor can act on."""
    where = ".".join(str(p) for p in error["loc"] if p not in ("function-after",))
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return f"{where}: unknown setting (check its spelling; docs/course.md lists every setting)"
    if kind == "enum":
        return f"{where}: {error.get('input')!r} is not a feedback policy; choose one of {', '.join(l.value for l in FeedbackLevel)}"
    if kind.startswith("datetime") or kind.startswith("date"):
        return f"{where}: not a date ({error.get('input')!r}); write e.g. 2026-03-12T23:59:00-05:00 or 2026-03-12"
    policy = _POLICY_EXAMPLES.get(str(error["loc"][-1])) if error["loc"] else None
    if kind == "model_type" and policy is not None:
        return f"{where}: not a {policy[0]} ({error.get('input')!r}); write it as a table, e.g. {policy[1]}"
    return f"{where}: {message.removeprefix('Value error, ')}"


#: How each policy setting is written, for a mistake that gives it as something else.
_POLICY_EXAMPLES = {
    "late": ("late policy", "late = { per_day = 0.1, grace_minutes = 15, cutoff_days = 7 }"),
    "feedback": ("feedback policy", 'feedback = { before_due = "mistakes", after_due = "reference" }'),
}


def resolve(parsed: CourseFile, root: Path, file: Path | None) -> Course:
    section = parsed.course

    def absolute(p: Path | None) -> Path | None:
        return None if p is None else (p if p.is_absolute() else root / p)

    base = parsed.defaults
    defaults = Assignment(
        id="",
        problem_set="",
        title=base.title,
        due=base.due,
        late=base.late or LatePolicy(),
        feedback=base.feedback or FeedbackPolicy(),
        variants=bool(base.variants),
        variant_version=base.variant_version or 1,
        attempts=base.attempts,
        roster=absolute(base.roster or section.roster),
    )
    assignments = {}
    for assignment_id, own in parsed.assignments.items():
        filled = {name: getattr(own, name) for name in AssignmentSettings.model_fields if getattr(own, name) is not None}
        if "roster" in filled:
            filled["roster"] = absolute(filled["roster"])
        filled.pop("problem_set", None)
        assignments[assignment_id] = defaults.model_copy(
            update={"id": assignment_id, "problem_set": own.problem_set or assignment_id, **filled}
        )
    store = section.store
    if store is not None and "://" not in store:  # a file path: relative to the course
        store = str(absolute(Path(store)))
    return Course(
        root=root,
        file=file,
        title=section.title,
        timezone=section.timezone,
        problems=absolute(section.problems),
        reference=absolute(section.reference),
        submissions=absolute(section.submissions),
        out=absolute(section.out),
        store=store,
        roster=absolute(section.roster),
        secret=absolute(section.secret),
        defaults=defaults,
        assignments=assignments,
        queue=parsed.queue,
    )
