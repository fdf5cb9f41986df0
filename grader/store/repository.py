"""Reading and writing the grade store: runs, results, manual scores, overrides, regrades.

Every write is its own transaction, so a manual score is safe the moment it is entered and
an interrupted run keeps whatever it had recorded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, select, update

from grader import __version__
from grader.models import Late, PartResult, Status, SubmissionReport
from grader.store import db, migrate
from grader.store.merge import apply_adjustments
from grader.store.models import ManualScore, Override, RegradeRecord, RunInfo
from grader.variants.variant import Variant


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; everything is stored in UTC, so say so."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _to_store(value: datetime | None) -> datetime | None:
    """In UTC. A time past datetime's range once in UTC (year 9999 at -23:59; the readers
    refuse such times, other callers may not) is stored as unknown: one value, not the batch."""
    if value is None:
        return None
    try:
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    except OverflowError:
        return None


class Store:
    """The grade database behind one output directory (or any SQLAlchemy URL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=True)  # for messages

    @classmethod
    def open(cls, out: Path | None = None, db_url: str | None = None) -> "Store":
        """OUT/grades.sqlite unless `db_url` (a URL or a SQLite path) is given; `StoreError`
        if it cannot be opened. This connects, and brings the schema to the newest revision
        (a new store is created by the migrations)."""
        url = db.database_url(out, db_url)
        with db.store_errors(url, "cannot open the grade store"):
            engine = db.make_engine(url)
            try:
                migrate.bring_to_head(engine)
            except BaseException:
                engine.dispose()
                raise
            return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- runs -----------------------------------------------------------------------------------
    def begin_run(
        self,
        command: str = "",
        *,
        kind: str = "run",
        key_hashes: dict[str, str] | None = None,
        grader_version: str = __version__,
        started_at: datetime | None = None,
    ) -> int:
        with self.engine.begin() as conn:
            row = conn.execute(
                insert(db.runs).values(
                    started_at=_to_store(started_at or utcnow()),
                    grader_version=grader_version,
                    key_hashes=dict(key_hashes or {}),
                    command=command,
                    kind=kind,
                )
            )
            return int(row.inserted_primary_key[0])

    def finish_run(self, run_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(db.runs).where(db.runs.c.id == run_id).values(finished_at=_to_store(utcnow())))

    def run(self, run_id: int) -> RunInfo:
        with self.engine.connect() as conn:
            row = conn.execute(select(db.runs).where(db.runs.c.id == run_id)).mappings().one()
        return _run_info(row)

    def runs(self) -> list[RunInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(db.runs).order_by(db.runs.c.id)).mappings().all()
        return [_run_info(r) for r in rows]

    # -- results --------------------------------------------------------------------------------
    def record_report(self, run_id: int, report: SubmissionReport) -> None:
        """Store one graded submission as the autograder produced it (before manual scores)."""
        self.record_reports(run_id, [report])

    def record_reports(self, run_id: int, reports: list[SubmissionReport]) -> None:
        """Store graded submissions in one transaction, rows inserted in bulk (statements per
        report, not the database, were a large batch's main cost)."""
        with self.engine.begin() as conn:
            hashes = dict(conn.execute(select(db.runs.c.key_hashes).where(db.runs.c.id == run_id)).scalar_one() or {})
            recorded = {
                (a, st): src
                for a, st, src in conn.execute(
                    select(db.submissions.c.assignment, db.submissions.c.student, db.submissions.c.source).where(
                        db.submissions.c.run_id == run_id
                    )
                )
            }
            submissions: list[dict[str, Any]] = []
            results: list[dict[str, Any]] = []
            for report in reports:
                if report.key_hash:
                    hashes[report.assignment] = report.key_hash
                who = (report.assignment, report.student)
                warnings = list(report.warnings)
                if who in recorded:
                    # Two files for one student in one run: the store keeps one result per
                    # student and run (the last recorded), and says so in its warnings.
                    warnings.append(f"another submission by this student ({recorded[who]}) was graded in the same run; this one is kept")
                    self._insert(conn, submissions, results)  # earlier rows of this batch first
                    self._forget(conn, run_id, *who)
                recorded[who] = report.source
                submissions.append(_submission_row(run_id, report, warnings))
                results.extend(_result_rows(run_id, report))
            self._insert(conn, submissions, results)
            conn.execute(update(db.runs).where(db.runs.c.id == run_id).values(key_hashes=hashes))

    @staticmethod
    def _insert(conn: Connection, submissions: list[dict[str, Any]], results: list[dict[str, Any]]) -> None:
        if submissions:
            conn.execute(insert(db.submissions), submissions)
        if results:
            conn.execute(insert(db.results), results)
        submissions.clear()
        results.clear()

    @staticmethod
    def _forget(conn: Connection, run_id: int, assignment: str, student: str) -> None:
        for table in (db.results, db.submissions):
            conn.execute(
                table.delete().where(
                    and_(table.c.run_id == run_id, table.c.assignment == assignment, table.c.student == student)
                )
            )

    def assignments(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(db.submissions.c.assignment).distinct().order_by(db.submissions.c.assignment)).scalars())

    def latest_run_ids(self, assignment: str) -> dict[str, int]:
        """For each student of an assignment, the most recent run that graded them."""
        s = db.submissions
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(s.c.student, func.max(s.c.run_id)).where(s.c.assignment == assignment).group_by(s.c.student)
            ).all()
        return {student: int(run_id) for student, run_id in rows}

    def latest_reports(self, assignment: str) -> list[SubmissionReport]:
        """Each student's most recent autograded report (manual scores not applied), by student."""
        s, r = db.submissions, db.results
        latest = (
            select(s.c.student.label("student"), func.max(s.c.run_id).label("run_id"))
            .where(s.c.assignment == assignment)
            .group_by(s.c.student)
            .subquery()
        )
        with self.engine.connect() as conn:
            subs = conn.execute(
                select(s)
                .join(latest, and_(s.c.student == latest.c.student, s.c.run_id == latest.c.run_id))
                .where(s.c.assignment == assignment)
                .order_by(s.c.student)
            ).mappings().all()
            parts = conn.execute(
                select(r)
                .join(latest, and_(r.c.student == latest.c.student, r.c.run_id == latest.c.run_id))
                .where(r.c.assignment == assignment)
                .order_by(r.c.student, r.c.position)
            ).mappings().all()
        by_student: dict[str, list[PartResult]] = {}
        for p in parts:
            by_student.setdefault(p["student"], []).append(_part(p))
        return [_report(sub, by_student.get(sub["student"], [])) for sub in subs]

    def reports(self, assignment: str) -> list[SubmissionReport]:
        """The latest reports with manual scores and overrides applied: what students see."""
        manual = _group(self.manual_scores(assignment))
        over = _group(self.overrides(assignment))
        return [
            apply_adjustments(rep, manual.get(rep.student, []), over.get(rep.student, []))
            for rep in self.latest_reports(assignment)
        ]

    # -- manual scores and overrides ------------------------------------------------------------
    def set_manual_score(self, score: ManualScore) -> None:
        """Store a manual score and the rubric items behind it, in one transaction."""
        self.set_manual_scores([score])

    def set_manual_scores(self, scores: Iterable[ManualScore]) -> None:
        """Several scores (and their rubric items) in one transaction: all are stored, or (on
        any failure) none, so a spreadsheet is never half imported."""
        with self.engine.begin() as conn:
            for score in scores:
                values = score.model_dump(exclude={"items"})
                items = {k: values[k] for k in ("assignment", "student", "part_id")} | {"items": [i.model_dump() for i in score.items]}
                self._upsert(db.manual_scores, values, ("score", "comment", "grader", "at"), conn)
                self._delete_keyed(db.manual_rubric_items, score.assignment, score.student, score.part_id, conn)
                if score.items:
                    conn.execute(insert(db.manual_rubric_items).values(items))

    def manual_scores(self, assignment: str, student: str | None = None) -> list[ManualScore]:
        rows = self._select_keyed(db.manual_scores, assignment, student)
        picked = {(r["student"], r["part_id"]): r["items"] for r in self._select_keyed(db.manual_rubric_items, assignment, student)}
        return [
            ManualScore.model_validate({**r, "at": _utc(r["at"]), "items": picked.get((r["student"], r["part_id"]), [])}) for r in rows
        ]

    def delete_manual_score(self, assignment: str, student: str, part_id: str) -> bool:
        with self.engine.begin() as conn:
            self._delete_keyed(db.manual_rubric_items, assignment, student, part_id, conn)
            return self._delete_keyed(db.manual_scores, assignment, student, part_id, conn)

    def set_override(self, override: Override) -> None:
        self._upsert(db.overrides, override.model_dump(), ("score", "reason", "grader", "at"))

    def overrides(self, assignment: str, student: str | None = None) -> list[Override]:
        rows = self._select_keyed(db.overrides, assignment, student)
        return [Override.model_validate({**r, "at": _utc(r["at"])}) for r in rows]

    def delete_override(self, assignment: str, student: str, part_id: str) -> bool:
        return self._delete_keyed(db.overrides, assignment, student, part_id)

    def _upsert(self, table: Any, values: dict[str, Any], changing: tuple[str, ...], conn: Connection | None = None) -> None:
        # Portable upsert (SQLite and PostgreSQL alike): update, and insert when nothing matched.
        values = {**values, "at": _to_store(values["at"])}
        key = and_(
            table.c.assignment == values["assignment"],
            table.c.student == values["student"],
            table.c.part_id == values["part_id"],
        )
        with self._transaction(conn) as conn:
            done = conn.execute(update(table).where(key).values({c: values[c] for c in changing}))
            if done.rowcount == 0:
                conn.execute(insert(table).values(values))

    @contextmanager
    def _transaction(self, conn: Connection | None) -> Iterator[Connection]:
        """The caller's transaction, or a new one."""
        if conn is not None:
            yield conn
        else:
            with self.engine.begin() as new:
                yield new

    def _select_keyed(self, table: Any, assignment: str, student: str | None) -> list[dict[str, Any]]:
        query = select(table).where(table.c.assignment == assignment)
        if student is not None:
            query = query.where(table.c.student == student)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query.order_by(table.c.student, table.c.part_id)).mappings()]

    def _delete_keyed(self, table: Any, assignment: str, student: str, part_id: str, conn: Connection | None = None) -> bool:
        with self._transaction(conn) as conn:
            done = conn.execute(
                table.delete().where(
                    and_(table.c.assignment == assignment, table.c.student == student, table.c.part_id == part_id)
                )
            )
            return done.rowcount > 0

    # -- regrades -------------------------------------------------------------------------------
    def record_regrade(self, records: Iterable[RegradeRecord]) -> None:
        rows = [{**r.model_dump(), "at": _to_store(r.at)} for r in records]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(db.regrade_history), rows)

    def regrade_history(self, assignment: str | None = None) -> list[RegradeRecord]:
        h = db.regrade_history
        query = select(h).order_by(h.c.id)
        if assignment is not None:
            query = query.where(h.c.assignment == assignment)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [RegradeRecord.model_validate({**r, "at": _utc(r["at"])}) for r in rows]


def _group(items: Iterable[ManualScore | Override]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for item in items:
        out.setdefault(item.student, []).append(item)
    return out


def _run_info(row: Any) -> RunInfo:
    return RunInfo(
        id=row["id"],
        started_at=_utc(row["started_at"]),
        finished_at=_utc(row["finished_at"]),
        grader_version=row["grader_version"],
        key_hashes=dict(row["key_hashes"] or {}),
        command=row["command"],
        kind=row["kind"],
    )


def _part(row: Any) -> PartResult:
    return PartResult(
        id=row["part_id"],
        score=row["score"],
        max_score=row["max_score"],
        status=Status(row["status"]),
        feedback=row["feedback"],
        answer=row["answer"],
        canonical=row["canonical"],
        kind=row["kind"],
        matched=row["matched"],
        details=dict(row["details"] or {}),
        reveals=row.get("reveals"),
    )


def _report(row: Any, parts: list[PartResult]) -> SubmissionReport:
    return SubmissionReport(
        assignment=row["assignment"],
        student=row["student"],
        score=row["score"],
        max_score=row["max_score"],
        parts=parts,
        warnings=list(row["warnings"] or []),
        submitted_at=_utc(row["submitted_at"]),
        source=row["source"],
        key_hash=row["key_hash"],
        grader_version=row["grader_version"],
        late=Late.model_validate(row["late"]) if row.get("late") else None,
        variant=Variant.model_validate(row["variant"]) if row.get("variant") else None,
    )


def _jsonable(value: Any) -> Any:
    """Part details as plain JSON data: numpy values become lists, NaN/inf become null
    (PostgreSQL's JSON type rejects them), anything else unknown becomes its string."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _jsonable(value.tolist())
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _submission_row(run_id: int, report: SubmissionReport, warnings: list[str]) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "assignment": report.assignment,
        "student": report.student,
        "score": report.score,
        "max_score": report.max_score,
        "key_hash": report.key_hash,
        "grader_version": report.grader_version,
        "source": report.source,
        "submitted_at": _to_store(report.submitted_at),
        "warnings": warnings,
        "late": report.late.model_dump(mode="json") if report.late is not None else None,
        "variant": report.variant.model_dump(mode="json") if report.variant is not None else None,
    }


def _result_rows(run_id: int, report: SubmissionReport) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "assignment": report.assignment,
            "student": report.student,
            "position": i,
            "part_id": p.id,
            "score": p.score,
            "max_score": p.max_score,
            "status": p.status.value,
            "feedback": p.feedback,
            "answer": p.answer,
            "canonical": p.canonical,
            "kind": p.kind,
            "matched": p.matched,
            "details": _jsonable(p.details),
            "reveals": p.reveals,
        }
        for i, p in enumerate(report.parts)
    ]
