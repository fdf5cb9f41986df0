"""Grading jobs: service submissions waiting for a worker (`grader serve --broker`, `grader worker`).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

One table, `grading_jobs` (grader.store.jobs): the submission, its state, the worker's lease,
the claims so far and the key version. The table is frozen here, as grader.store.db declares it now.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {"ix_grading_jobs_state_lease": ["state", "lease_until"], "ix_grading_jobs_assignment_student": ["assignment", "student"]}


def upgrade() -> None:
    # a store made before migrations by `metadata.create_all` (adopted by the baseline) may
    # have the table already: it is the same table, kept as it is
    found = sa.inspect(op.get_bind())
    if found.has_table("grading_jobs"):
        present = {ix["name"] for ix in found.get_indexes("grading_jobs")}
        for name, columns in INDEXES.items():
            if name not in present:
                op.create_index(name, "grading_jobs", columns)
        return
    op.create_table(
        "grading_jobs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("assignment", sa.String(length=200), nullable=False),
        sa.Column("student", sa.String(length=200), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("submission", sa.JSON(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("student", "idempotency_key", name="uq_grading_jobs_student_key"),
    )
    for name, columns in INDEXES.items():
        op.create_index(name, "grading_jobs", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="grading_jobs")
    op.drop_table("grading_jobs")
