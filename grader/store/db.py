"""The grade store's schema and engine: SQLAlchemy Core tables, SQLite by default.

Runs are append-only: a run records when it happened, the grader version and the answer-key
hash per assignment, so any stored grade can be reproduced. Results hang off runs; manual
scores and overrides live in their own tables keyed by (assignment, student, part) so no
run ever overwrites them.
"""

from __future__ import annotations

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
    inspect,
)

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

# The rubric items behind a manual score, one row per scored part that has any. A table of its
# own (not a column of manual_scores) so a store made before rubrics opens as it is:
# create_all adds a missing table, never a missing column.
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
    """An engine with the schema in place (tables are created if missing)."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    metadata.create_all(engine)
    _add_new_columns(engine)
    return engine


def _add_new_columns(engine: Engine) -> None:
    """A store written by an earlier version lacks the nullable columns added since: add them
    (`create_all` creates missing tables, never missing columns), so old stores keep opening."""
    found = inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if not found.has_table(table.name):
                continue
            present = {c["name"] for c in found.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')
