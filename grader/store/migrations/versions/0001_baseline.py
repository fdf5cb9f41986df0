"""Baseline: the grade store's schema as it stood when migrations began (runs, results, manual
scores, overrides, regrade history, the web service's tables).

Revision ID: 0001
Revises:
Create Date: 2026-12-01

The tables are frozen here (never imported from grader.store.db, which moves on). The upgrade
also adopts a store made before migrations existed: tables it lacks are created, and nullable
columns and indexes added to the schema since that store was made are added (what
`metadata.create_all` plus the old column patch-up did on every open); then Alembic stamps it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

baseline = sa.MetaData()

sa.Table(
    "manual_rubric_items",
    baseline,
    sa.Column("assignment", sa.String(length=200), nullable=False),
    sa.Column("student", sa.String(length=200), nullable=False),
    sa.Column("part_id", sa.String(length=200), nullable=False),
    sa.Column("items", sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint("assignment", "student", "part_id"),
)

sa.Table(
    "manual_scores",
    baseline,
    sa.Column("assignment", sa.String(length=200), nullable=False),
    sa.Column("student", sa.String(length=200), nullable=False),
    sa.Column("part_id", sa.String(length=200), nullable=False),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("comment", sa.Text(), nullable=False),
    sa.Column("grader", sa.String(length=200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("assignment", "student", "part_id"),
)

sa.Table(
    "overrides",
    baseline,
    sa.Column("assignment", sa.String(length=200), nullable=False),
    sa.Column("student", sa.String(length=200), nullable=False),
    sa.Column("part_id", sa.String(length=200), nullable=False),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("grader", sa.String(length=200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("assignment", "student", "part_id"),
)

sa.Table(
    "runs",
    baseline,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("grader_version", sa.String(length=32), nullable=False),
    sa.Column("key_hashes", sa.JSON(), nullable=False),
    sa.Column("command", sa.Text(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint("id"),
)

sa.Table(
    "service_drafts",
    baseline,
    sa.Column("assignment", sa.String(length=200), nullable=False),
    sa.Column("student", sa.String(length=200), nullable=False),
    sa.Column("part_id", sa.String(length=200), nullable=False),
    sa.Column("answer", sa.Text(), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("assignment", "student", "part_id"),
)

sa.Table(
    "service_settings",
    baseline,
    sa.Column("name", sa.String(length=100), nullable=False),
    sa.Column("value", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("name"),
)

sa.Table(
    "service_tokens",
    baseline,
    sa.Column("token_hash", sa.String(length=64), nullable=False),
    sa.Column("subject", sa.String(length=200), nullable=False),
    sa.Column("role", sa.String(length=16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("token_hash"),
    sa.Index("ix_service_tokens_subject", "subject", "role"),
)

sa.Table(
    "regrade_history",
    baseline,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("run_id", sa.Integer(), nullable=False),
    sa.Column("previous_run_id", sa.Integer(), nullable=True),
    sa.Column("assignment", sa.String(length=200), nullable=False),
    sa.Column("student", sa.String(length=200), nullable=False),
    sa.Column("old_score", sa.Float(), nullable=True),
    sa.Column("new_score", sa.Float(), nullable=False),
    sa.Column("delta", sa.Float(), nullable=False),
    sa.Column("parts_changed", sa.JSON(), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["previous_run_id"], ["runs.id"], ondelete="SET NULL"),
    sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
)

sa.Table(
    "results",
    baseline,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("run_id", sa.Integer(), nullable=False),
    sa.Column("assignment", sa.String(length=200), nullable=False),
    sa.Column("student", sa.String(length=200), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("part_id", sa.String(length=200), nullable=False),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("max_score", sa.Float(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("feedback", sa.Text(), nullable=False),
    sa.Column("answer", sa.Text(), nullable=True),
    sa.Column("canonical", sa.Text(), nullable=True),
    sa.Column("kind", sa.String(length=32), nullable=False),
    sa.Column("matched", sa.Text(), nullable=True),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Column("reveals", sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("run_id", "assignment", "student", "part_id"),
    sa.Index("ix_results_assignment_student", "assignment", "student"),
)

sa.Table(
    "service_submissions",
    baseline,
    sa.Column("id", sa.String(length=40), nullable=False),
    sa.Column("assignment", sa.String(length=200), nullable=False),
    sa.Column("student", sa.String(length=200), nullable=False),
    sa.Column("idempotency_key", sa.String(length=200), nullable=True),
    sa.Column("run_id", sa.Integer(), nullable=False),
    sa.Column("answers", sa.JSON(), nullable=False),
    sa.Column("report", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("student", "idempotency_key"),
    sa.Index("ix_service_submissions_assignment_student", "assignment", "student"),
)

sa.Table(
    "submissions",
    baseline,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("run_id", sa.Integer(), nullable=False),
    sa.Column("assignment", sa.String(length=200), nullable=False),
    sa.Column("student", sa.String(length=200), nullable=False),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("max_score", sa.Float(), nullable=False),
    sa.Column("key_hash", sa.String(length=64), nullable=True),
    sa.Column("grader_version", sa.String(length=32), nullable=True),
    sa.Column("source", sa.Text(), nullable=True),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("warnings", sa.JSON(), nullable=False),
    sa.Column("late", sa.JSON(), nullable=True),
    sa.Column("variant", sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("run_id", "assignment", "student"),
    sa.Index("ix_submissions_assignment_student", "assignment", "student"),
)


def upgrade() -> None:
    bind = op.get_bind()
    found = sa.inspect(bind)
    existing = set(found.get_table_names())
    baseline.create_all(bind, tables=[t for t in baseline.sorted_tables if t.name not in existing])
    for table in baseline.sorted_tables:
        if table.name not in existing:
            continue
        present = {c["name"] for c in found.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present and column.nullable:
                op.add_column(table.name, sa.Column(column.name, column.type, nullable=True))
        indexed = {i["name"] for i in found.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexed:
                index.create(bind)


def downgrade() -> None:
    baseline.drop_all(op.get_bind())
