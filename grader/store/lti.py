"""The LTI tool's persistence: registered platforms, login states and used nonces, the
platform users as the service knows them, assignments placed in platform courses, and the
score posts (sent, or waiting to be sent again).

Persistence only: the protocol lives in grader.lti, the routes in grader.service.lti.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from grader.store import db
from grader.store.repository import Store, _to_store, _utc, utcnow
from grader.store.service import token_hash

#: How long a login may take between the platform's initiation and its launch.
STATE_LIFETIME = timedelta(minutes=10)
#: How long a used nonce is remembered (longer than any token the platform signs lives).
NONCE_MEMORY = timedelta(days=1)


class Platform(BaseModel):
    id: int
    issuer: str
    client_id: str
    deployment_ids: list[str]
    auth_login_url: str
    token_url: str
    jwks_url: str
    token_audience: str | None = None

    @property
    def assertion_audience(self) -> str:
        """The `aud` of the tool's client assertion: the token URL unless the platform said otherwise."""
        return self.token_audience or self.token_url


class LtiUser(BaseModel):
    platform_id: int
    sub: str
    subject: str
    role: str
    token_hash: str


class LtiLink(BaseModel):
    platform_id: int
    context_id: str
    assignment: str
    deployment_id: str
    resource_link_id: str | None = None
    lineitems_url: str | None = None
    lineitem_url: str | None = None
    scopes: list[str] = []


class ScorePost(BaseModel):
    id: int
    platform_id: int
    context_id: str
    assignment: str
    student: str
    user_id: str
    payload: dict[str, Any]
    state: str
    attempts: int
    last_error: str | None = None
    created_at: datetime
    sent_at: datetime | None = None


class LtiStore:
    """The LTI tables over a grade store's engine."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    # -- the tool's own settings (its key pair, its public URL) ----------------------------------
    def setting(self, name: str) -> str | None:
        t = db.service_settings
        with self.engine.connect() as conn:
            return conn.execute(select(t.c.value).where(t.c.name == name)).scalar()

    def keep_setting(self, name: str, value: str, *, replace: bool = False) -> str:
        """Store `value` under `name` unless one is there (then that one is returned), or
        replace it. Two processes making the tool's key at once keep the first."""
        t = db.service_settings
        with self.engine.begin() as conn:
            found = conn.execute(select(t.c.value).where(t.c.name == name)).scalar()
            if found is not None and not replace:
                return found
            if found is not None:
                conn.execute(update(t).where(t.c.name == name).values(value=value))
                return value
            try:
                with conn.begin_nested():
                    conn.execute(insert(t).values(name=name, value=value))
            except IntegrityError:
                return conn.execute(select(t.c.value).where(t.c.name == name)).scalar_one()
            return value

    # -- platforms ---------------------------------------------------------------------------------
    def register(
        self, issuer: str, client_id: str, deployment_ids: list[str], auth_login_url: str, token_url: str, jwks_url: str, token_audience: str | None = None
    ) -> Platform:
        """Record a platform (or update the one with this issuer and client id)."""
        t = db.lti_platforms
        values = dict(
            deployment_ids=sorted(set(deployment_ids)), auth_login_url=auth_login_url, token_url=token_url, jwks_url=jwks_url, token_audience=token_audience
        )
        with self.engine.begin() as conn:
            key = and_(t.c.issuer == issuer, t.c.client_id == client_id)
            if conn.execute(update(t).where(key).values(**values)).rowcount == 0:
                conn.execute(insert(t).values(issuer=issuer, client_id=client_id, created_at=_to_store(utcnow()), **values))
        found = self.platform(issuer, client_id)
        assert found is not None
        return found

    def platforms(self, issuer: str | None = None) -> list[Platform]:
        t = db.lti_platforms
        query = select(t).order_by(t.c.id)
        if issuer is not None:
            query = query.where(t.c.issuer == issuer)
        with self.engine.connect() as conn:
            return [_platform(r) for r in conn.execute(query).mappings()]

    def platform(self, issuer: str, client_id: str) -> Platform | None:
        return next((p for p in self.platforms(issuer) if p.client_id == client_id), None)

    def platform_by_id(self, platform_id: int) -> Platform | None:
        t = db.lti_platforms
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.id == platform_id)).mappings().first()
        return _platform(row) if row is not None else None

    # -- logins: state and nonce -------------------------------------------------------------------
    def begin_login(self, platform_id: int) -> tuple[str, str]:
        """A fresh (state, nonce) for a login; old unfinished logins are dropped on the way."""
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = utcnow()
        t = db.lti_login_states
        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.created_at < _to_store(now - STATE_LIFETIME)))
            conn.execute(insert(t).values(state=state, nonce=nonce, platform_id=platform_id, created_at=_to_store(now)))
        return state, nonce

    def finish_login(self, state: str) -> tuple[int, str] | None:
        """(platform id, nonce) of a live login, consumed: a state works once."""
        t = db.lti_login_states
        with self.engine.begin() as conn:
            row = conn.execute(select(t).where(t.c.state == state)).mappings().first()
            if row is None:
                return None
            if conn.execute(delete(t).where(t.c.state == state)).rowcount != 1:
                return None  # another request consumed it first
        if _utc(row["created_at"]) < utcnow() - STATE_LIFETIME:
            return None
        return int(row["platform_id"]), str(row["nonce"])

    def use_nonce(self, platform_id: int, nonce: str) -> bool:
        """Remember a launch's nonce; False if it was used before (a replay)."""
        t = db.lti_nonces
        now = utcnow()
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(t).where(t.c.used_at < _to_store(now - NONCE_MEMORY)))
                conn.execute(insert(t).values(platform_id=platform_id, nonce=nonce, used_at=_to_store(now)))
        except IntegrityError:
            return False
        return True

    # -- users ---------------------------------------------------------------------------------------
    def user(self, platform_id: int, sub: str) -> LtiUser | None:
        t = db.lti_users
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(and_(t.c.platform_id == platform_id, t.c.sub == sub))).mappings().first()
        return LtiUser(**{k: row[k] for k in LtiUser.model_fields}) if row is not None else None

    def users_of(self, subject: str) -> list[LtiUser]:
        t = db.lti_users
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.subject == subject)).mappings().all()
        return [LtiUser(**{k: r[k] for k in LtiUser.model_fields}) for r in rows]

    def keep_user(self, platform_id: int, sub: str, subject: str, role: str) -> LtiUser:
        """The mapping of (platform, sub), made on the first launch; each launch re-issues the
        service token behind it when the role changed or the token was revoked, so the session a
        launch opens is an ordinary token session (and `grader token --revoke` ends it)."""
        t, tokens = db.lti_users, db.service_tokens
        now = _to_store(utcnow())
        found = self.user(platform_id, sub)
        if found is not None:
            subject = found.subject  # the mapping is stable: a renamed email keeps the student
        with self.engine.begin() as conn:
            live = found is not None and conn.execute(
                select(tokens.c.role).where(and_(tokens.c.token_hash == found.token_hash, tokens.c.revoked_at.is_(None)))
            ).scalar() == role
            digest = found.token_hash if live and found is not None else token_hash(secrets.token_urlsafe(24))
            if not live:
                conn.execute(insert(tokens).values(token_hash=digest, subject=subject, role=role, created_at=now))
            if found is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(t).values(platform_id=platform_id, sub=sub, subject=subject, role=role, token_hash=digest, created_at=now, seen_at=now))
                except IntegrityError:  # a second first launch at the same moment: keep the first
                    pass
            else:
                conn.execute(update(t).where(and_(t.c.platform_id == platform_id, t.c.sub == sub)).values(role=role, token_hash=digest, seen_at=now))
        kept = self.user(platform_id, sub)
        assert kept is not None
        return kept

    def subject_taken(self, subject: str) -> bool:
        """Whether another platform user already maps to this student id."""
        return bool(self.users_of(subject))

    # -- courses: links and members --------------------------------------------------------------
    def keep_link(self, link: LtiLink) -> None:
        """Record where an assignment's scores go in a platform course (the latest launch's
        AGS claim wins; a line item found or made earlier is kept when the claim names none)."""
        t = db.lti_links
        key = and_(t.c.platform_id == link.platform_id, t.c.context_id == link.context_id, t.c.assignment == link.assignment)
        values = dict(deployment_id=link.deployment_id, resource_link_id=link.resource_link_id, lineitems_url=link.lineitems_url, scopes=link.scopes, updated_at=_to_store(utcnow()))
        if link.lineitem_url:
            values["lineitem_url"] = link.lineitem_url
        with self.engine.begin() as conn:
            if conn.execute(update(t).where(key).values(**values)).rowcount == 0:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(t).values(platform_id=link.platform_id, context_id=link.context_id, assignment=link.assignment, lineitem_url=link.lineitem_url, **{k: v for k, v in values.items() if k != "lineitem_url"}))
                except IntegrityError:
                    conn.execute(update(t).where(key).values(**values))

    def set_lineitem(self, platform_id: int, context_id: str, assignment: str, url: str) -> None:
        t = db.lti_links
        with self.engine.begin() as conn:
            conn.execute(update(t).where(and_(t.c.platform_id == platform_id, t.c.context_id == context_id, t.c.assignment == assignment)).values(lineitem_url=url))

    def link(self, platform_id: int, context_id: str, assignment: str) -> LtiLink | None:
        t = db.lti_links
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(and_(t.c.platform_id == platform_id, t.c.context_id == context_id, t.c.assignment == assignment))).mappings().first()
        return _link(row) if row is not None else None

    def keep_member(self, platform_id: int, context_id: str, sub: str) -> None:
        t = db.lti_members
        key = and_(t.c.platform_id == platform_id, t.c.context_id == context_id, t.c.sub == sub)
        now = _to_store(utcnow())
        with self.engine.begin() as conn:
            if conn.execute(update(t).where(key).values(seen_at=now)).rowcount == 0:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(t).values(platform_id=platform_id, context_id=context_id, sub=sub, seen_at=now))
                except IntegrityError:
                    pass

    def targets(self, assignment: str, student: str) -> list[tuple[LtiLink, str]]:
        """Where a student's score for an assignment goes: (link, the platform's user id) for
        every platform course the student launched in that has this assignment placed."""
        u, m, t = db.lti_users, db.lti_members, db.lti_links
        query = (
            select(t, u.c.sub)
            .select_from(u.join(m, and_(m.c.platform_id == u.c.platform_id, m.c.sub == u.c.sub)).join(t, and_(t.c.platform_id == m.c.platform_id, t.c.context_id == m.c.context_id)))
            .where(and_(u.c.subject == student, u.c.role == "student", t.c.assignment == assignment))
            .order_by(t.c.platform_id, t.c.context_id)
        )
        with self.engine.connect() as conn:
            return [(_link(r), str(r["sub"])) for r in conn.execute(query).mappings()]

    def linked_students(self, assignment: str) -> list[str]:
        """Students with somewhere to send a score for this assignment."""
        u, m, t = db.lti_users, db.lti_members, db.lti_links
        query = (
            select(u.c.subject)
            .distinct()
            .select_from(u.join(m, and_(m.c.platform_id == u.c.platform_id, m.c.sub == u.c.sub)).join(t, and_(t.c.platform_id == m.c.platform_id, t.c.context_id == m.c.context_id)))
            .where(and_(u.c.role == "student", t.c.assignment == assignment))
        )
        with self.engine.connect() as conn:
            return sorted(str(s) for s in conn.execute(query).scalars())

    # -- score posts -------------------------------------------------------------------------------
    def queue_post(self, link: LtiLink, student: str, user_id: str, payload: dict[str, Any]) -> int:
        """Record a score to send; an unsent (pending or failed) older score for the same place is superseded."""
        t = db.lti_score_posts
        now = _to_store(utcnow())
        same = and_(t.c.platform_id == link.platform_id, t.c.context_id == link.context_id, t.c.assignment == link.assignment, t.c.user_id == user_id)
        with self.engine.begin() as conn:
            conn.execute(update(t).where(and_(same, t.c.state.in_(("pending", "failed")))).values(state="superseded"))
            made = conn.execute(
                insert(t).values(
                    platform_id=link.platform_id, context_id=link.context_id, assignment=link.assignment, student=student, user_id=user_id,
                    payload=payload, state="pending", attempts=0, created_at=now, next_try_at=now,
                )
            )
            return int(made.inserted_primary_key[0])

    def last_sent(self, link: LtiLink, user_id: str) -> ScorePost | None:
        """The newest score for this place that is sent or on its way (not failed or superseded)."""
        t = db.lti_score_posts
        query = (
            select(t)
            .where(and_(t.c.platform_id == link.platform_id, t.c.context_id == link.context_id, t.c.assignment == link.assignment, t.c.user_id == user_id, t.c.state.in_(("sent", "pending"))))
            .order_by(t.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _post(row) if row is not None else None

    def post(self, post_id: int) -> ScorePost | None:
        t = db.lti_score_posts
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.id == post_id)).mappings().first()
        return _post(row) if row is not None else None

    def posts(self, states: tuple[str, ...] | None = None, *, due_only: bool = False, limit: int | None = None) -> list[ScorePost]:
        t = db.lti_score_posts
        query = select(t).order_by(t.c.id)
        if states is not None:
            query = query.where(t.c.state.in_(states))
        if due_only:
            query = query.where(t.c.next_try_at <= _to_store(utcnow()))
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_post(r) for r in conn.execute(query).mappings()]

    def mark_sent(self, post_id: int) -> None:
        t = db.lti_score_posts
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == post_id).values(state="sent", sent_at=_to_store(utcnow()), attempts=t.c.attempts + 1, last_error=None))

    def mark_failed_attempt(self, post_id: int, error: str, *, give_up_after: int, retry_in: timedelta) -> str:
        """One more failed attempt: `pending` again (next try after `retry_in`), or `failed`
        once `give_up_after` attempts are spent. The state it is left in."""
        t = db.lti_score_posts
        with self.engine.begin() as conn:
            attempts = conn.execute(select(t.c.attempts).where(t.c.id == post_id)).scalar_one() + 1
            state = "failed" if attempts >= give_up_after else "pending"
            conn.execute(
                update(t).where(t.c.id == post_id).values(state=state, attempts=attempts, last_error=error[:2000], next_try_at=_to_store(utcnow() + retry_in))
            )
        return state

    def requeue(self, post_ids: list[int]) -> None:
        """Failed posts made pending again (`grader lti push --failed`), with their attempts reset."""
        t = db.lti_score_posts
        with self.engine.begin() as conn:
            conn.execute(update(t).where(and_(t.c.id.in_(post_ids), t.c.state == "failed")).values(state="pending", attempts=0, next_try_at=_to_store(utcnow())))


def _platform(row: Any) -> Platform:
    return Platform(**{k: row[k] for k in Platform.model_fields})


def _link(row: Any) -> LtiLink:
    return LtiLink(**{k: row[k] for k in LtiLink.model_fields if k != "scopes"}, scopes=list(row["scopes"] or []))


def _post(row: Any) -> ScorePost:
    values = {k: row[k] for k in ScorePost.model_fields}
    values["created_at"] = _utc(values["created_at"])
    values["sent_at"] = _utc(values["sent_at"])
    return ScorePost(**values)
