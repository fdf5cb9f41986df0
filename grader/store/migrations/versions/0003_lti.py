"""LTI 1.3: the registered platforms, login states, used nonces, platform users, assignments
placed in platform courses and their members, and the score posts (grader/store/lti.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

The tables are frozen here (never imported from grader.store.db, which moves on).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

tables = sa.MetaData()

sa.Table(
    "lti_platforms",
    tables,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("issuer", sa.String(400), nullable=False),
    sa.Column("client_id", sa.String(400), nullable=False),
    sa.Column("deployment_ids", sa.JSON, nullable=False),  # [str]
    sa.Column("auth_login_url", sa.Text, nullable=False),
    sa.Column("token_url", sa.Text, nullable=False),
    sa.Column("jwks_url", sa.Text, nullable=False),
    sa.Column("token_audience", sa.Text),  # the `aud` of a client assertion, when not the token URL
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("issuer", "client_id"),
)

# A login started by a platform and not yet finished: the state sent back in a cookie and
# the nonce the launch's token must carry. Consumed (deleted) by the launch: single use.
sa.Table(
    "lti_login_states",
    tables,
    sa.Column("state", sa.String(100), primary_key=True),
    sa.Column("nonce", sa.String(100), nullable=False),
    sa.Column("platform_id", sa.Integer, sa.ForeignKey("lti_platforms.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Every nonce a launch was accepted with (a replayed token is refused): kept a day.
sa.Table(
    "lti_nonces",
    tables,
    sa.Column("platform_id", sa.Integer, sa.ForeignKey("lti_platforms.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("nonce", sa.String(200), primary_key=True),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
)

# A platform's user (issuer, sub) as the service knows them: a student id or a staff name, with
# the service token (its hash only) whose session a launch opens.
sa.Table(
    "lti_users",
    tables,
    sa.Column("platform_id", sa.Integer, sa.ForeignKey("lti_platforms.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("sub", sa.String(400), primary_key=True),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # "student" or "staff"
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_lti_users_subject", "subject"),
)

# An assignment placed in a platform's course (context): where its scores go (the line item,
# or the container to find or make it in) and the AGS scopes granted there.
sa.Table(
    "lti_links",
    tables,
    sa.Column("platform_id", sa.Integer, sa.ForeignKey("lti_platforms.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("context_id", sa.String(400), primary_key=True),
    sa.Column("assignment", sa.String(200), primary_key=True),
    sa.Column("deployment_id", sa.String(400), nullable=False),
    sa.Column("resource_link_id", sa.String(400)),
    sa.Column("lineitems_url", sa.Text),
    sa.Column("lineitem_url", sa.Text),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Who launched in which platform course: their scores go to that course's line items.
sa.Table(
    "lti_members",
    tables,
    sa.Column("platform_id", sa.Integer, sa.ForeignKey("lti_platforms.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("context_id", sa.String(400), primary_key=True),
    sa.Column("sub", sa.String(400), primary_key=True),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
)

# Each score sent (or to send) to a line item: the AGS payload as made when the grade changed.
# A failed post stays `pending` (retried, bounded) and then `failed`; a newer score for the same
# user and line item makes an unsent older one `superseded`.
sa.Table(
    "lti_score_posts",
    tables,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("platform_id", sa.Integer, sa.ForeignKey("lti_platforms.id", ondelete="CASCADE"), nullable=False),
    sa.Column("context_id", sa.String(400), nullable=False),
    sa.Column("assignment", sa.String(200), nullable=False),
    sa.Column("student", sa.String(200), nullable=False),
    sa.Column("user_id", sa.String(400), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending | sent | failed | superseded
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Index("ix_lti_score_posts_state", "state", "next_try_at"),
    sa.Index("ix_lti_score_posts_target", "platform_id", "context_id", "assignment", "user_id"),
)


def upgrade() -> None:
    tables.create_all(op.get_bind())


def downgrade() -> None:
    tables.drop_all(op.get_bind())
