"""The grade store's schema and engine: SQLAlchemy Core tables, SQLite by default.

Runs are append-only: a run records when it happened, the grader version and the answer-key
hash per assignment, so any stored grade can be reproduced. Results hang off runs; manual
scores and overrides live in their own tables keyed by (assignment, student, part) so no
run ever overwrites them.

Every change to these tables is also an Alembic revision in migrations/versions/ (and
migrate.HEAD_REVISION moves to it): `Store.open` migrates every store to that head, and
tests/test_migrations.py checks that the migrated schema is exactly this `metadata`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.exc import SQLAlchemyError

from grader.errors import StoreError

#: The store's file name when no `--db` is given: next to the reports.
DEFAULT_DB_NAME = "grades.sqlite"

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("grader_version", String(32), nullable=False),
    Column("key_hashes", JSON, nullable=False),  # {assignment: answer-key source hash}
    Column("command", Text, nullable=False),
    Column("kind", String(16), nullable=False),  # "run" or "regrade"
)

# One row per graded submission in a run: what a report says besides its parts.
submissions = Table(
    "submissions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("assignment", String(200), nullable=False),
    Column("student", String(200), nullable=False),
    Column("score", Float, nullable=False),
    Column("max_score", Float, nullable=False),
    Column("key_hash", String(64)),
    Column("grader_version", String(32)),
    Column("source", Text),
    Column("submitted_at", DateTime(timezone=True)),
    Column("warnings", JSON, nullable=False),
    Column("late", JSON),  # grader.models.Late of a late submission (its score is the late-adjusted one)
    Column("variant", JSON),  # the student's own numbers (per-student variants): a regrade keeps them
    UniqueConstraint("run_id", "assignment", "student"),
    Index("ix_submissions_assignment_student", "assignment", "student"),
)

results = Table(
    "results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("assignment", String(200), nullable=False),
    Column("student", String(200), nullable=False),
    Column("position", Integer, nullable=False),  # the part's place in the problem set
    Column("part_id", String(200), nullable=False),
    Column("score", Float, nullable=False),
    Column("max_score", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("feedback", Text, nullable=False),
    Column("answer", Text),
    Column("canonical", Text),
    Column("kind", String(32), nullable=False),
    Column("matched", Text),
    Column("details", JSON, nullable=False),
    Column("reveals", Text),  # feedback that states the reference (withheld by the feedback policy)
    UniqueConstraint("run_id", "assignment", "student", "part_id"),
    Index("ix_results_assignment_student", "assignment", "student"),
)

manual_scores = Table(
    "manual_scores",
    metadata,
    Column("assignment", String(200), primary_key=True),
    Column("student", String(200), primary_key=True),
    Column("part_id", String(200), primary_key=True),
    Column("score", Float, nullable=False),
    Column("comment", Text, nullable=False),
    Column("grader", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# The rubric items behind a manual score, one row per scored part that has any (a table of its
# own, not a column of manual_scores: stores made before rubrics gained it as a new table).
manual_rubric_items = Table(
    "manual_rubric_items",
    metadata,
    Column("assignment", String(200), primary_key=True),
    Column("student", String(200), primary_key=True),
    Column("part_id", String(200), primary_key=True),
    Column("items", JSON, nullable=False),  # [{"number": 1, "text": ..., "marks": ...}, ...]
)

overrides = Table(
    "overrides",
    metadata,
    Column("assignment", String(200), primary_key=True),
    Column("student", String(200), primary_key=True),
    Column("part_id", String(200), primary_key=True),
    Column("score", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Column("grader", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

regrade_history = Table(
    "regrade_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("previous_run_id", Integer, ForeignKey("runs.id", ondelete="SET NULL")),
    Column("assignment", String(200), nullable=False),
    Column("student", String(200), nullable=False),
    Column("old_score", Float),  # None: the student had no earlier result
    Column("new_score", Float, nullable=False),
    Column("delta", Float, nullable=False),
    Column("parts_changed", JSON, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)


def database_url(out: Path | None, db: str | None = None) -> str:
    """`--db` as given (a SQLAlchemy URL, or a path to a SQLite file), else OUT/grades.sqlite."""
    if db:
        if "://" in db:
            return db
        return f"sqlite:///{Path(db).expanduser().resolve()}"
    if out is None:
        raise ValueError("either an output directory or a database URL is needed")
    return f"sqlite:///{(Path(out) / DEFAULT_DB_NAME).resolve()}"


def shown_url(url: str) -> str:
    """The URL for a message, password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even a URL: shown as given, cut short
        return url[:200]


def _reason(exc: BaseException) -> str:
    """The first line of what the database (or the file system) said."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {text[0] if text else ''}".rstrip(": ")


@contextmanager
def store_errors(url: str, doing: str) -> Iterator[None]:
    """Turn the database's errors (and the file system's, for SQLite) into one `StoreError` line."""
    try:
        yield
    except (SQLAlchemyError, OSError, ValueError, ImportError) as exc:
        raise StoreError(f"{doing} {shown_url(url)}: {_reason(exc)}") from exc


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # SQLite ignores foreign keys unless asked; WAL lets a report be read while a run writes.
    # synchronous=NORMAL: with WAL, a commit no longer waits for a disk flush (one per report
    # was most of a large batch's time); the database stays consistent after a crash.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine on the store (the schema is brought up to date by grader.store.migrate)."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


# -- the web service (`grader serve`): identities, drafts and its own submissions ---------------
# A personal access token is stored only as its SHA-256 (a stolen database yields no login);
# revoking sets `revoked_at`, so the history of who had access stays.
service_tokens = Table(
    "service_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("subject", String(200), nullable=False),  # a roster student id, or a staff name
    Column("role", String(16), nullable=False),  # "student" or "staff"
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Index("ix_service_tokens_subject", "subject", "role"),
)

# What a student has typed, part by part, saved as they type (survives a closed browser).
service_drafts = Table(
    "service_drafts",
    metadata,
    Column("assignment", String(200), primary_key=True),
    Column("student", String(200), primary_key=True),
    Column("part_id", String(200), primary_key=True),
    Column("answer", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# Every submission made in the service, with the whole report (staff view; students get it
# filtered by the feedback policy). Written in the same transaction as its run's rows, so a
# submission is either wholly recorded or absent. (student, idempotency_key) is unique: a
# retried POST finds the submission its first attempt recorded.
service_submissions = Table(
    "service_submissions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("assignment", String(200), nullable=False),
    Column("student", String(200), nullable=False),
    Column("idempotency_key", String(200)),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("answers", JSON, nullable=False),  # as handed in (a regrade grades them again)
    Column("report", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("student", "idempotency_key"),
    Index("ix_service_submissions_assignment_student", "assignment", "student"),
)

# The service's own secrets (the session-cookie signing key), made on first start.
service_settings = Table(
    "service_settings",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)
