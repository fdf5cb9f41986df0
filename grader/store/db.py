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

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError

from grader.errors import StoreError

#: The store's file name when no `--db` is given: next to the reports.
DEFAULT_DB_NAME = "grades.sqlite"

_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """Text every backend stores: a NUL (PostgreSQL's text refuses it) shown as `\\0`, as
    reports show it; a lone surrogate (no UTF-8 for it: every driver refuses it) as U+FFFD."""
    if text.isascii():  # most text: no surrogate possible, one scan for a NUL
        return text.replace("\x00", "\\0") if "\x00" in text else text
    return _SURROGATE.sub("\ufffd", text).replace("\x00", "\\0")


def _storable_value(value: Any) -> Any:
    return storable(value) if isinstance(value, str) else value


class StoredString(TypeDecorator[str]):
    """A VARCHAR whose values are made `storable`: a hostile string costs its own text, never
    the transaction (a batch of reports, a submission)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return _storable_value(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        # TypeDecorator's own processor wraps process_bind_param in two more calls per value;
        # a batch binds ~200 strings per report, so this calls the function directly (and
        # keeps the inner type's processor, which TypeDecorator's version exists to keep).
        inner = self.impl_instance.bind_processor(dialect)
        if inner is None:
            return _storable_value
        return lambda value: inner(_storable_value(value))


class StoredText(StoredString):
    """TEXT, its values made `storable`."""

    impl = Text
    cache_ok = True


metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("grader_version", StoredString(32), nullable=False),
    Column("key_hashes", JSON, nullable=False),  # {assignment: answer-key source hash}
    Column("command", StoredText, nullable=False),
    Column("kind", StoredString(16), nullable=False),  # "run" or "regrade"
)

# One row per graded submission in a run: what a report says besides its parts.
submissions = Table(
    "submissions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("assignment", StoredString(200), nullable=False),
    Column("student", StoredString(200), nullable=False),
    Column("score", Float, nullable=False),
    Column("max_score", Float, nullable=False),
    Column("key_hash", StoredString(64)),
    Column("grader_version", StoredString(32)),
    Column("source", StoredText),
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
    Column("assignment", StoredString(200), nullable=False),
    Column("student", StoredString(200), nullable=False),
    Column("position", Integer, nullable=False),  # the part's place in the problem set
    Column("part_id", StoredString(200), nullable=False),
    Column("score", Float, nullable=False),
    Column("max_score", Float, nullable=False),
    Column("status", StoredString(16), nullable=False),
    Column("feedback", StoredText, nullable=False),
    Column("answer", StoredText),
    Column("canonical", StoredText),
    Column("kind", StoredString(32), nullable=False),
    Column("matched", StoredText),
    Column("details", JSON, nullable=False),
    Column("reveals", StoredText),  # feedback that states the reference (withheld by the feedback policy)
    UniqueConstraint("run_id", "assignment", "student", "part_id"),
    Index("ix_results_assignment_student", "assignment", "student"),
)

manual_scores = Table(
    "manual_scores",
    metadata,
    Column("assignment", StoredString(200), primary_key=True),
    Column("student", StoredString(200), primary_key=True),
    Column("part_id", StoredString(200), primary_key=True),
    Column("score", Float, nullable=False),
    Column("comment", StoredText, nullable=False),
    Column("grader", StoredString(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# The rubric items behind a manual score, one row per scored part that has any (a table of its
# own, not a column of manual_scores: stores made before rubrics gained it as a new table).
manual_rubric_items = Table(
    "manual_rubric_items",
    metadata,
    Column("assignment", StoredString(200), primary_key=True),
    Column("student", StoredString(200), primary_key=True),
    Column("part_id", StoredString(200), primary_key=True),
    Column("items", JSON, nullable=False),  # [{"number": 1, "text": ..., "marks": ...}, ...]
)

overrides = Table(
    "overrides",
    metadata,
    Column("assignment", StoredString(200), primary_key=True),
    Column("student", StoredString(200), primary_key=True),
    Column("part_id", StoredString(200), primary_key=True),
    Column("score", Float, nullable=False),
    Column("reason", StoredText, nullable=False),
    Column("grader", StoredString(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

regrade_history = Table(
    "regrade_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("previous_run_id", Integer, ForeignKey("runs.id", ondelete="SET NULL")),
    Column("assignment", StoredString(200), nullable=False),
    Column("student", StoredString(200), nullable=False),
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


#: A database server's connections per process: GRADER_DB_POOL_SIZE kept open, up to
#: GRADER_DB_MAX_OVERFLOW more at a peak (docs/deploy.md: processes x (both) must stay below
#: the server's max_connections).
POOL_SIZE_ENV, MAX_OVERFLOW_ENV = "GRADER_DB_POOL_SIZE", "GRADER_DB_MAX_OVERFLOW"
CONNECT_TIMEOUT = 10  # seconds to reach a database server before saying it is down


def make_engine(url: str) -> Engine:
    """An engine on the store (the schema is brought up to date by grader.store.migrate)."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite:"):
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # a server: a connection it closed (a restart, an idle timeout) is replaced, not handed out
    options: dict = {"pool_pre_ping": True, "pool_size": _env_int(POOL_SIZE_ENV, 5), "max_overflow": _env_int(MAX_OVERFLOW_ENV, 10)}
    if url.startswith("postgresql") and "connect_timeout" not in url:
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    return create_engine(url, **options)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    return int(value)


# -- the web service (`grader serve`): identities, drafts and its own submissions ---------------
# A personal access token is stored only as its SHA-256 (a stolen database yields no login);
# revoking sets `revoked_at`, so the history of who had access stays.
service_tokens = Table(
    "service_tokens",
    metadata,
    Column("token_hash", StoredString(64), primary_key=True),
    Column("subject", StoredString(200), nullable=False),  # a roster student id, or a staff name
    Column("role", StoredString(16), nullable=False),  # "student" or "staff"
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Index("ix_service_tokens_subject", "subject", "role"),
)

# What a student has typed, part by part, saved as they type (survives a closed browser).
service_drafts = Table(
    "service_drafts",
    metadata,
    Column("assignment", StoredString(200), primary_key=True),
    Column("student", StoredString(200), primary_key=True),
    Column("part_id", StoredString(200), primary_key=True),
    Column("answer", StoredText, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# Every submission made in the service, with the whole report (staff view; students get it
# filtered by the feedback policy). Written in the same transaction as its run's rows, so a
# submission is either wholly recorded or absent. (student, idempotency_key) is unique: a
# retried POST finds the submission its first attempt recorded.
service_submissions = Table(
    "service_submissions",
    metadata,
    Column("id", StoredString(40), primary_key=True),
    Column("assignment", StoredString(200), nullable=False),
    Column("student", StoredString(200), nullable=False),
    Column("idempotency_key", StoredString(200)),
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
    Column("name", StoredString(100), primary_key=True),
    Column("value", StoredText, nullable=False),
)


# -- grading jobs (`grader serve --broker`, `grader worker`): submissions waiting for a worker ----
# A service submission handed to the queue is a row here before it is graded; the broker's
# message carries only its id. `state` moves queued -> running (a worker's claim, with a lease
# it renews while it grades) -> graded (its report recorded as the service submission of the
# same id, once) or failed (with a reason a student can read). A lease that runs out means the
# worker died: the sweeper puts the job back to queued, `attempts` bounding how often.
grading_jobs = Table(
    "grading_jobs",
    metadata,
    Column("id", String(40), primary_key=True),  # the service submission's id once graded
    Column("assignment", String(200), nullable=False),
    Column("student", String(200), nullable=False),
    Column("idempotency_key", String(200)),
    Column("submission", JSON, nullable=False),  # grader.models.Submission: answers, code files, submitted_at, source
    Column("answers", JSON, nullable=False),  # as handed in (recorded with the report)
    Column("key_hash", String(64)),  # the key version asked for; once graded, the one that graded it
    Column("state", String(16), nullable=False),  # queued | running | graded | failed
    Column("attempts", Integer, nullable=False),  # claims so far
    Column("lease_until", DateTime(timezone=True)),  # while running: the claim ends then unless renewed
    Column("worker", String(200)),  # who holds (or last held) the claim, for the logs
    Column("reason", Text),  # failed: what the student reads
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("enqueued_at", DateTime(timezone=True), nullable=False),  # the last time its id was sent
    Column("finished_at", DateTime(timezone=True)),
    UniqueConstraint("student", "idempotency_key", name="uq_grading_jobs_student_key"),
    Index("ix_grading_jobs_state_lease", "state", "lease_until"),
    Index("ix_grading_jobs_assignment_student", "assignment", "student"),
)


# -- LTI 1.3 (the service as a tool in Canvas, Moodle, Blackboard): see grader/store/lti.py -------
# A platform the course is registered with: its issuer and the client id it gave the tool,
# the deployments allowed to launch, and where its login, token and keys are.
lti_platforms = Table(
    "lti_platforms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issuer", String(400), nullable=False),
    Column("client_id", String(400), nullable=False),
    Column("deployment_ids", JSON, nullable=False),  # [str]
    Column("auth_login_url", Text, nullable=False),
    Column("token_url", Text, nullable=False),
    Column("jwks_url", Text, nullable=False),
    Column("token_audience", Text),  # the `aud` of a client assertion, when not the token URL
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("issuer", "client_id"),
)

# A login started by a platform and not yet finished: the state sent back in a cookie and
# the nonce the launch's token must carry. Consumed (deleted) by the launch: single use.
lti_login_states = Table(
    "lti_login_states",
    metadata,
    Column("state", String(100), primary_key=True),
    Column("nonce", String(100), nullable=False),
    Column("platform_id", Integer, ForeignKey("lti_platforms.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Every nonce a launch was accepted with (a replayed token is refused): kept a day.
lti_nonces = Table(
    "lti_nonces",
    metadata,
    Column("platform_id", Integer, ForeignKey("lti_platforms.id", ondelete="CASCADE"), primary_key=True),
    Column("nonce", String(200), primary_key=True),
    Column("used_at", DateTime(timezone=True), nullable=False),
)

# A platform's user (issuer, sub) as the service knows them: a student id or a staff name, with
# the service token (its hash only) whose session a launch opens.
lti_users = Table(
    "lti_users",
    metadata,
    Column("platform_id", Integer, ForeignKey("lti_platforms.id", ondelete="CASCADE"), primary_key=True),
    Column("sub", String(400), primary_key=True),
    Column("subject", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # "student" or "staff"
    Column("token_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Index("ix_lti_users_subject", "subject"),
)

# An assignment placed in a platform's course (context): where its scores go (the line item,
# or the container to find or make it in) and the AGS scopes granted there.
lti_links = Table(
    "lti_links",
    metadata,
    Column("platform_id", Integer, ForeignKey("lti_platforms.id", ondelete="CASCADE"), primary_key=True),
    Column("context_id", String(400), primary_key=True),
    Column("assignment", String(200), primary_key=True),
    Column("deployment_id", String(400), nullable=False),
    Column("resource_link_id", String(400)),
    Column("lineitems_url", Text),
    Column("lineitem_url", Text),
    Column("scopes", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Who launched in which platform course: their scores go to that course's line items.
lti_members = Table(
    "lti_members",
    metadata,
    Column("platform_id", Integer, ForeignKey("lti_platforms.id", ondelete="CASCADE"), primary_key=True),
    Column("context_id", String(400), primary_key=True),
    Column("sub", String(400), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

# Each score sent (or to send) to a line item: the AGS payload as made when the grade changed.
# A failed post stays `pending` (retried, bounded) and then `failed`; a newer score for the same
# user and line item makes an unsent older one `superseded`.
lti_score_posts = Table(
    "lti_score_posts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("platform_id", Integer, ForeignKey("lti_platforms.id", ondelete="CASCADE"), nullable=False),
    Column("context_id", String(400), nullable=False),
    Column("assignment", String(200), nullable=False),
    Column("student", String(200), nullable=False),
    Column("user_id", String(400), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # pending | sent | failed | superseded
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_try_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Index("ix_lti_score_posts_state", "state", "next_try_at"),
    Index("ix_lti_score_posts_target", "platform_id", "context_id", "assignment", "user_id"),
)

# -- the edX XQueue client (`grader xqueue`): its journal of submissions pulled ------------------
# One row per XQueue submission (keyed by the server and XQueue's submission id), written when
# it is pulled and before it is graded, holding its reply once graded and before it is posted,
# marked posted once XQueue accepted it: a client that restarts posts what is graded but not
# posted, and a submission XQueue serves again is answered from here, never graded twice.
xqueue_journal = Table(
    "xqueue_journal",
    metadata,
    Column("server", String(300), primary_key=True),  # the XQueue base URL
    Column("submission_id", String(64), primary_key=True),
    Column("queue", String(200), nullable=False),
    Column("header", Text, nullable=False),  # the latest xqueue_header, as XQueue sent it
    Column("body", Text, nullable=False),  # xqueue_body as sent (graded again after a crash)
    Column("student", String(200)),  # anonymous_student_id, where edX says it was handed in
    Column("assignment", String(200)),
    Column("state", String(16), nullable=False),  # "pulled" | "graded" | "posted"
    Column("reply", JSON),  # {"correct", "score", "msg"} as posted
    Column("service_submission", String(40)),  # service_submissions.id of the recorded grade
    Column("served", Integer, nullable=False),  # times XQueue handed it out
    Column("grade_attempts", Integer, nullable=False),
    Column("post_attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("pulled_at", DateTime(timezone=True), nullable=False),
    Column("graded_at", DateTime(timezone=True)),
    Column("posted_at", DateTime(timezone=True)),
    Index("ix_xqueue_journal_state", "server", "queue", "state"),
)
