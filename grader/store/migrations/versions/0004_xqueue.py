"""The edX XQueue client's journal: one row per XQueue submission, pulled -> graded -> posted
(grader/store/xqueue.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

The table is frozen here (never imported from grader.store.db, which moves on).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

tables = sa.MetaData()

sa.Table(
    "xqueue_journal",
    tables,
    sa.Column("server", sa.String(300), primary_key=True),
    sa.Column("submission_id", sa.String(64), primary_key=True),
    sa.Column("queue", sa.String(200), nullable=False),
    sa.Column("header", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("student", sa.String(200)),
    sa.Column("assignment", sa.String(200)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reply", sa.JSON),
    sa.Column("service_submission", sa.String(40)),
    sa.Column("served", sa.Integer, nullable=False),
    sa.Column("grade_attempts", sa.Integer, nullable=False),
    sa.Column("post_attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("graded_at", sa.DateTime(timezone=True)),
    sa.Column("posted_at", sa.DateTime(timezone=True)),
    sa.Index("ix_xqueue_journal_state", "server", "queue", "state"),
)


def upgrade() -> None:
    tables.create_all(op.get_bind())


def downgrade() -> None:
    tables.drop_all(op.get_bind())
