"""Who is asking: a personal access token (`grader token`), sent as `Authorization: Bearer
TOKEN` by API clients or turned into a session by `/login?token=TOKEN` in a browser, or an
LTI launch from the course's LMS (grader.service.lti), whose verified (issuer, sub) maps to a
student or staff member once (`launch_subject`) and opens the same kind of session.

The session is Starlette's signed cookie (itsdangerous; HttpOnly, SameSite=Lax) holding the
token's hash, not the token, so revoking the token (`grader token --revoke`) ends every
session made from it. Identity always comes from here, never from anything in a request body.

CSRF: a request that rides on the cookie and changes something must carry the session's
CSRF token (a form field `csrf_token` or the `X-CSRF-Token` header, which the page's script
sends). Bearer requests need none: a browser never adds that header on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request

from grader.store.service import Principal, ServiceStore, token_hash

if TYPE_CHECKING:
    from grader.lms.roster import Roster
    from grader.lti.claims import Launch

SESSION_KEY = "who"
CSRF_KEY = "csrf"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Identity:
    principal: Principal
    via: str  # "bearer" or "session"

    @property
    def student(self) -> str:
        return self.principal.subject

    @property
    def staff(self) -> bool:
        return self.principal.role == "staff"


class Identities:
    """Tokens to principals, with a short cache (a revoked token stops working within `ttl` s)."""

    def __init__(self, service: ServiceStore, ttl: float = 5.0) -> None:
        self.service = service
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    def by_hash(self, digest: str) -> Principal | None:
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        principal = self.service.principal_by_hash(digest)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now, principal)
        return principal

    def cached(self, digest: str) -> tuple[bool, Principal | None]:
        """(found, principal) from the cache alone: no database on the event loop."""
        hit = self._cache.get(digest)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return True, hit[1]
        return False, None

    def digest(self, request: Request) -> tuple[str, str] | None:
        """(how, token hash) of the credentials a request carries."""
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            return "bearer", token_hash(header[7:].strip())
        digest = request.session.get(SESSION_KEY) if "session" in request.scope else None
        return ("session", digest) if isinstance(digest, str) else None

    def login(self, request: Request, token: str) -> Principal | None:
        principal = self.by_hash(token_hash(token))
        if principal is not None:
            self.enter(request, token_hash(token))
        return principal

    def enter(self, request: Request, digest: str) -> None:
        """A fresh session for the token with this hash (a login link, or an LTI launch)."""
        request.session.clear()
        request.session[SESSION_KEY] = digest
        request.session[CSRF_KEY] = secrets.token_urlsafe(24)
        self._cache.pop(digest, None)  # a token re-issued by a launch is read afresh


def launch_subject(launch: Launch, roster: Roster, taken: Callable[[str], bool]) -> tuple[str, str]:
    """(subject, role) for a platform user on their first launch; later launches keep the
    mapping stored then. Only the verified token's claims count. Staff (Instructor or
    TeachingAssistant) are named by email or name; a student is the roster's student whose
    lti_user_id is the token's sub, or whose id or SIS id is its lis person_sourcedid, or whose
    email it carries; without a roster, the person_sourcedid; else a stable id made from the
    platform and sub. An id another platform user already holds is never shared."""
    stable = "lti-" + hashlib.sha256(f"{launch.issuer}\n{launch.sub}".encode()).hexdigest()[:16]
    if launch.staff:
        return (launch.email or launch.name or stable)[:200], "staff"
    if not launch.learner:
        raise PermissionError("this tool serves a course's learners and its instructors (the launch gave neither role)")
    found = ""
    source, email = launch.person_sourcedid, launch.email.casefold()
    for entry in roster.values():
        if entry.lti_user_id and entry.lti_user_id == launch.sub:
            found = entry.student
            break
        if source and source in (entry.student, entry.sis_user_id):
            found = found or entry.student
        elif email and entry.email and entry.email.casefold() == email:
            found = found or entry.student
    if not found and not roster and source:
        found = source[:200]
    if not found or taken(found):
        return stable, "student"
    return found, "student"


def csrf_token(request: Request) -> str:
    token = request.session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session[CSRF_KEY] = token
    return token


def check_csrf(request: Request, identity: Identity, sent: str | None) -> None:
    """403 for a cookie-borne change without the session's CSRF token."""
    if identity.via != "session" or request.method not in UNSAFE:
        return
    expected = request.session.get(CSRF_KEY)
    given = sent or request.headers.get("x-csrf-token")
    if not isinstance(expected, str) or not given or not hmac.compare_digest(expected, given):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
