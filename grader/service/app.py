"""The FastAPI application of `grader serve`: the JSON API of docs/service.md and the pages.

Why FastAPI: ASGI (a submission awaits the grading pool without holding a thread), pydantic
models at the boundary (the same models as the report files), and `/openapi.json` for free,
which the schemathesis tests check every response against. Pages are server-rendered with
Jinja2 (autoescaped); the only script is the debounced live preview and draft saving.
"""


import json
import re
import secrets
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from pydantic import AfterValidator, BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from grader.models import SubmissionReport
from grader.submission import MAX_DEPTH
from grader.service.courseware import Courseware, NoSuchThing, QueueDown, Refused
from grader.store.jobs import Job
from grader.service.identity import Identities, Identity, check_csrf, csrf_token
from grader.service.limits import DEFAULT_BODY_CAP, BodyCap, Rate, RateLimit
from grader.service.overview import overview
from grader import lti
from grader.service import staff as staff_work

HERE = Path(__file__).parent
MAX_ANSWER_CHARS = 20_000
MAX_KEY_CHARS = 200


# -- the API's models (docs/service.md) ---------------------------------------------------------
Answer = str | int | float | bool | list[Any] | None


class AssignmentOut(BaseModel):
    id: str
    title: str
    max_score: float
    due: datetime | None


def _bounded(value: Any) -> Any:
    """An answer nested deeper than an answer file may be is refused, as such a file is (422)."""
    stack = [(value, 0)]
    while stack:  # iterative: a hostile nesting must not cost a stack frame per level
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"the answer is nested too deeply (more than {MAX_DEPTH} levels)")
        if isinstance(item, list):
            stack.extend((x, depth + 1) for x in item)
    return value


BoundedAnswer = Annotated[Answer, AfterValidator(_bounded)]


class CheckIn(BaseModel):
    part: str = Field(max_length=MAX_KEY_CHARS)
    answer: BoundedAnswer = None


class CheckOut(BaseModel):
    status: Literal["ok", "invalid"]
    read_as: str = Field("", description="The canonical echo of a readable answer.")
    message: str = Field("", description="Why an answer cannot be read, pointing at the place, with an accepted form.")
    position: int | None = Field(None, description="Where an unreadable answer broke (0-based character index), when known.")


class DraftIn(BaseModel):
    part: str = Field(max_length=MAX_KEY_CHARS)
    answer: str = Field("", max_length=MAX_ANSWER_CHARS)


class SubmissionIn(BaseModel):
    answers: dict[str, BoundedAnswer] = Field(default_factory=dict, max_length=1000)


class SubmissionOut(BaseModel):
    id: str
    status: Literal["graded", "queued", "running", "failed"] = Field(
        "graded", description="graded: `report` holds the report; queued or running: waiting for a worker (ask again); failed: `reason` says why."
    )
    report: SubmissionReport | None = Field(None, description="The report (as the feedback policy lets the student see it), once graded.")
    reason: str | None = Field(None, description="Why a failed submission could not be graded.")


class SubmissionSummary(BaseModel):
    id: str
    assignment: str
    score: float | None = Field(description="None until graded")
    max_score: float
    created_at: datetime
    status: Literal["queued", "running", "graded", "failed"] = "graded"  # on a queue: until graded
    reason: str | None = None  # failed: what the student reads


class Problem(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The request body is not JSON."},
    401: {"model": Problem, "description": "No valid token or session."},
    403: {"model": Problem, "description": "Not allowed (staff only, or a missing CSRF token)."},
    404: {"model": Problem, "description": "No such assignment, part or submission (or not yours)."},
    413: {"model": Problem, "description": "Request body too large."},
    429: {"model": Problem, "description": "Too many requests; see Retry-After."},
}
QUEUE_DOWN: dict[int | str, dict[str, Any]] = {503: {"model": Problem, "description": "The grading queue cannot be reached; see Retry-After."}}
#: Retry-After of a 503 when the grading queue cannot be reached.
QUEUE_RETRY_AFTER = 5


class SecurityHeaders:
    """ASGI middleware: everything a page uses is the service's own (KaTeX included), no
    framing, and no token in a Referer (the login link carries one)."""

    HEADERS = [
        (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self'; frame-ancestors 'none'"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
    ]

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.HEADERS]}
            await send(message)

        await self.app(scope, receive, with_headers)


def _math_safe_markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.S)


class SafeJSONResponse(JSONResponse):
    """JSON that can always be sent: a lone surrogate (valid in a JSON escape, so a client can
    send one, but with no UTF-8 form) is written as its escape instead of ending the response
    in a 500. Other text is written as JSONResponse writes it, byte for byte."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def create_app(
    courseware: Courseware,
    *,
    body_cap: int = DEFAULT_BODY_CAP,
    check_rate: Rate = Rate(20.0, 40.0),
    submit_rate: Rate = Rate(1.0, 5.0),
    identity_ttl: float = 5.0,
    https_only: bool = False,
) -> FastAPI:
    cw = courseware
    app = FastAPI(
        title="grader serve", version="1", description="The grading service: see docs/service.md.", default_response_class=SafeJSONResponse
    )
    identities = Identities(cw.service, ttl=identity_ttl)
    limits = {"check": RateLimit(check_rate), "submit": RateLimit(submit_rate)}
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    md = _math_safe_markdown()

    def markdown(text: str) -> Markup:
        # maths ($...$) kept out of the Markdown parser (its _ and * are not emphasis), then
        # rendered by the bundled KaTeX in the page
        spans: list[str] = []

        def hold(m: re.Match[str]) -> str:
            spans.append(m.group(0))
            return f"KATEXSPAN{len(spans) - 1}END"

        html = md.render(MATH.sub(hold, text or ""))
        return Markup(re.sub(r"KATEXSPAN(\d+)END", lambda m: str(escape(spans[int(m.group(1))])), html))

    templates.env.filters["markdown"] = markdown
    templates.env.filters["num"] = lambda x: f"{x:g}" if isinstance(x, (int, float)) else x
    templates.env.filters["tojson_attr"] = lambda v: json.dumps(v)

    app.add_middleware(
        SessionMiddleware,
        secret_key=cw.service.secret("session"),
        session_cookie="grader_session",
        same_site="lax",
        https_only=https_only,
        max_age=14 * 24 * 3600,
    )
    app.add_middleware(BodyCap, cap=body_cap)

    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # -- who is asking -------------------------------------------------------------------------
    async def identity(request: Request) -> Identity:
        # a cached token is resolved on the event loop; a miss reads the store on a thread
        creds = identities.digest(request)
        found = None
        if creds is not None:
            hit, principal = identities.cached(creds[1])
            if not hit:
                principal = await to_thread.run_sync(identities.by_hash, creds[1])
            found = Identity(principal, creds[0]) if principal is not None else None
        if found is None:
            raise HTTPException(401, "sign in with your personal link, or send Authorization: Bearer TOKEN", headers={"WWW-Authenticate": "Bearer"})
        return found

    def staff(who: Annotated[Identity, Depends(identity)]) -> Identity:
        if not who.staff:
            raise HTTPException(403, "staff only")
        return who

    def limited(action: str, who: Identity) -> None:
        wait = limits[action].take(f"{who.principal.role}:{who.student}")
        if wait > 0:
            seconds = max(1, int(wait + 0.999))
            raise HTTPException(429, f"too many {action} requests: try again in {seconds} s", headers={"Retry-After": str(seconds)})

    def known(assignment: str) -> None:
        try:
            cw.info(assignment)
        except NoSuchThing as exc:
            raise HTTPException(404, str(exc)) from None

    def own_submission(sid: str, who: Identity) -> Any:
        """The recorded submission `sid`, or its job while it waits for a worker."""
        found: Any = cw.service.submission(sid)
        if found is None and cw.dispatcher is not None:
            found = cw.pending(sid)
        # another student's submission is "not found", never "forbidden": its id says nothing
        if found is None or (found.student != who.student and not who.staff):
            raise HTTPException(404, "no such submission")
        return found

    def submission_out(found: Any, who: Identity) -> SubmissionOut:
        if isinstance(found, Job):
            return SubmissionOut(id=found.id, status=found.state, reason=found.reason if found.state == "failed" else None)
        return SubmissionOut(id=found.id, report=shown(found.report, who))

    def shown(report: SubmissionReport, who: Identity) -> SubmissionReport:
        return cw.adjusted(report) if who.staff else cw.student_view(report)

    def allowed(request: Request) -> str:
        """Every method some route takes at this path (Starlette names only the first route's)."""
        from starlette.routing import Match

        methods: set[str] = set()
        for route in app.router.routes:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= set(getattr(route, "methods", None) or ())
        return ", ".join(sorted(methods))

    @app.exception_handler(StarletteHTTPException)
    async def _problem(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return SafeJSONResponse({"detail": "method not allowed"}, status_code=405, headers={"Allow": allowed(request)})
        wants_page = "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api/")
        if wants_page and exc.status_code == 401 and not request.url.path.startswith("/lti/"):
            return templates.TemplateResponse(request, "error.html", {"who": None, "title": "Sign in", "message": "Open the personal link your course staff gave you to sign in."}, status_code=401)
        if wants_page:
            return templates.TemplateResponse(request, "error.html", {"who": None, "title": f"Error {exc.status_code}", "message": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return SafeJSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_body(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's own handler, but sent by SafeJSONResponse: its errors echo the input
        return SafeJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)

    # -- the API -------------------------------------------------------------------------------
    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    @app.get("/api/v1/assignments", response_model=list[AssignmentOut], responses=ERRORS)
    def list_assignments(who: Annotated[Identity, Depends(identity)]) -> list[AssignmentOut]:
        return [AssignmentOut(id=a.id, title=a.title, max_score=a.max_score, due=a.due) for a in cw.assignments()]

    @app.get("/api/v1/assignments/{assignment}", responses=ERRORS)
    def get_sheet(assignment: str, who: Annotated[Identity, Depends(identity)]) -> dict[str, Any]:
        """The homework sheet: every part's prompt (with the student's own numbers)."""
        known(assignment)
        return cw.sheet(assignment, None if who.staff else who.student)

    @app.post("/api/v1/assignments/{assignment}/check", response_model=CheckOut, responses=ERRORS)
    async def check(assignment: str, body: CheckIn, request: Request, who: Annotated[Identity, Depends(identity)]) -> CheckOut:
        """How an answer is read (never whether it is right)."""
        check_csrf(request, who, None)
        known(assignment)
        limited("check", who)
        try:
            reading = await cw.check(assignment, body.part, body.answer)
        except NoSuchThing as exc:
            raise HTTPException(404, str(exc)) from None
        if reading.status == "ok":
            return CheckOut(status="ok", read_as=reading.read_as or "", message=reading.message)
        return CheckOut(status="invalid", message=reading.message, position=reading.position)

    @app.get("/api/v1/assignments/{assignment}/drafts", response_model=dict[str, str], responses=ERRORS)
    def get_drafts(assignment: str, who: Annotated[Identity, Depends(identity)]) -> dict[str, str]:
        known(assignment)
        return cw.service.drafts(assignment, who.student)

    @app.put("/api/v1/assignments/{assignment}/drafts", status_code=204, responses=ERRORS)
    def put_draft(assignment: str, body: DraftIn, request: Request, who: Annotated[Identity, Depends(identity)]) -> Response:
        check_csrf(request, who, None)
        known(assignment)
        if body.part not in {p.id for p in cw.part_keys(assignment)}:
            raise HTTPException(404, f"{assignment} has no part {body.part!r}")
        cw.service.save_draft(assignment, who.student, body.part, body.answer)
        return Response(status_code=204)

    @app.post(
        "/api/v1/assignments/{assignment}/submissions",
        status_code=201,
        response_model=SubmissionOut,
        responses={
            **ERRORS,
            **QUEUE_DOWN,
            202: {"model": SubmissionOut, "description": "Taken, not graded yet (on the queue): ask GET /api/v1/submissions/{id} for it."},
            409: {"model": Problem, "description": "Refused by the course's rules (no attempts left)."},
        },
    )
    async def submit(
        assignment: str,
        body: SubmissionIn,
        request: Request,
        who: Annotated[Identity, Depends(identity)],
        idempotency_key: Annotated[str | None, Header(max_length=MAX_KEY_CHARS)] = None,
    ) -> Response:
        """Grade all parts; the report as the feedback policy lets the student see it. On the
        queue, a submission not graded within a few seconds is answered 202 with its status."""
        check_csrf(request, who, None)
        known(assignment)
        recorded, new = await _submit(assignment, body.answers, who, idempotency_key)
        out = await to_thread.run_sync(submission_out, recorded, who)
        code = 202 if out.status != "graded" else 201 if new else 200
        return Response(out.model_dump_json(), status_code=code, media_type="application/json")

    async def _submit(assignment: str, answers: dict[str, Any], who: Identity, key: str | None) -> Any:
        # (the store is read on a thread: nothing in an async route may wait on the database)
        if key is None or await to_thread.run_sync(cw.service.by_idempotency_key, who.student, key) is None:
            limited("submit", who)  # a retry of a recorded submission is never refused
        try:
            return await cw.submit(assignment, who.student, answers, key)
        except NoSuchThing as exc:
            raise HTTPException(404, str(exc)) from None
        except Refused as exc:
            raise HTTPException(409, str(exc)) from None
        except QueueDown:
            raise HTTPException(
                503, f"submissions cannot be taken just now (the grading queue is unreachable): try again in {QUEUE_RETRY_AFTER} s",
                headers={"Retry-After": str(QUEUE_RETRY_AFTER)},
            ) from None

    def own_submissions(who: Identity, assignment: str | None = None) -> list[Any]:
        """Every submission `who` may see, oldest first: the recorded ones and, on a queue, the
        jobs not graded yet (waiting, being graded, failed)."""
        student = None if who.staff else who.student
        found: list[Any] = list(cw.service.submissions(assignment, student))
        if cw.dispatcher is not None:
            found += cw.jobs.unfinished(assignment, student)
            found.sort(key=lambda s: (s.created_at, s.id))
        return found

    def summary_of(found: Any, who: Identity) -> SubmissionSummary:
        if isinstance(found, Job):
            return SubmissionSummary(
                id=found.id, assignment=found.assignment, score=None, max_score=cw.info(found.assignment).max_score,
                created_at=found.created_at, status=found.state, reason=found.reason if found.state == "failed" else None,
            )
        report = shown(found.report, who)
        return SubmissionSummary(id=found.id, assignment=found.assignment, score=report.score, max_score=report.max_score, created_at=found.created_at)

    @app.get("/api/v1/submissions", response_model=list[SubmissionSummary], responses=ERRORS)
    def list_submissions(who: Annotated[Identity, Depends(identity)], assignment: str | None = None) -> list[SubmissionSummary]:
        return [summary_of(s, who) for s in own_submissions(who, assignment)]

    @app.get("/api/v1/submissions/{sid}", response_model=SubmissionOut, responses=ERRORS)
    def get_submission(sid: str, who: Annotated[Identity, Depends(identity)]) -> SubmissionOut:
        """A submission: its report once graded; on the queue, its status until then."""
        return submission_out(own_submission(sid, who), who)

    # -- pages ---------------------------------------------------------------------------------
    def page(request: Request, name: str, who: Identity | None, status_code: int = 200, **context: Any) -> Response:
        csrf = csrf_token(request) if who is not None and who.via == "session" else ""
        return templates.TemplateResponse(request, name, {"who": who, "csrf": csrf, **context}, status_code=status_code)

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login(request: Request, token: str = "") -> Response:
        principal = identities.login(request, token[:MAX_KEY_CHARS]) if token else None
        if principal is None:
            return templates.TemplateResponse(request, "error.html", {"who": None, "title": "Sign in", "message": "This link is not valid (it may have been revoked). Ask your course staff for a new one."}, status_code=401)
        return RedirectResponse("/staff" if principal.role == "staff" else "/", status_code=303)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request, who: Annotated[Identity, Depends(identity)]) -> Response:
        form = await request.form()
        check_csrf(request, who, _field(form, "csrf_token"))
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request, who: Annotated[Identity, Depends(identity)]) -> Response:
        if who.staff:
            return RedirectResponse("/staff", status_code=303)
        mine = cw.service.submissions(None, who.student)
        rows = []
        for a in cw.assignments():
            subs = [s for s in mine if s.assignment == a.id]
            last = cw.student_view(subs[-1].report) if subs else None
            rows.append({"info": a, "count": len(subs), "last": last})
        return page(request, "home.html", who, rows=rows)

    @app.get("/assignments/{assignment}", response_class=HTMLResponse, include_in_schema=False)
    def assignment_page(request: Request, assignment: str, who: Annotated[Identity, Depends(identity)]) -> Response:
        known(assignment)
        info = cw.info(assignment)
        sheet = cw.sheet(assignment, None if who.staff else who.student)
        keys = {p.id: p for p in cw.part_keys(assignment)}
        drafts = cw.service.drafts(assignment, who.student)
        used = cw.service.count(assignment, who.student)
        return page(
            request, "assignment.html", who, info=info, sheet=sheet, keys=keys, drafts=drafts, used=used, code=cw.code_signatures(assignment),
            submission_key=secrets.token_urlsafe(16),
        )

    @app.post("/assignments/{assignment}/submit", include_in_schema=False)
    async def submit_form(request: Request, assignment: str, who: Annotated[Identity, Depends(identity)]) -> Response:
        form = await request.form()
        check_csrf(request, who, _field(form, "csrf_token"))
        known(assignment)
        parts = [p.id for p in cw.part_keys(assignment)]
        answers = {p: _field(form, f"answer:{p}") for p in parts}
        answers = {p: a for p, a in answers.items() if a is not None and a.strip()}
        key = (_field(form, "submission_key") or "")[:MAX_KEY_CHARS] or None
        recorded, _ = await _submit(assignment, answers, who, key)

        def keep_drafts() -> None:  # what was handed in is the draft from now on
            for p in parts:
                cw.service.save_draft(assignment, who.student, p, answers.get(p, ""))

        await to_thread.run_sync(keep_drafts)
        return RedirectResponse(f"/submissions/{recorded.id}", status_code=303)

    @app.get("/submissions/{sid}", response_class=HTMLResponse, include_in_schema=False)
    def submission_page(request: Request, sid: str, who: Annotated[Identity, Depends(identity)]) -> Response:
        found = own_submission(sid, who)
        if isinstance(found, Job):  # on the queue, not graded yet: the page looks again shortly
            return page(request, "submission_pending.html", who, job=found, info=cw.info(found.assignment), refresh=2 if found.pending else None)
        report = shown(found.report, who)
        return page(request, "submission.html", who, sub=found, report=report, info=cw.info(found.assignment), keys={p.id: p for p in cw.part_keys(found.assignment)})

    @app.get("/history", response_class=HTMLResponse, include_in_schema=False)
    def history(request: Request, who: Annotated[Identity, Depends(identity)]) -> Response:
        rows = [{"sub": s, "summary": summary_of(s, who)} for s in reversed(own_submissions(who))]
        return page(request, "history.html", who, rows=rows)

    # -- staff pages ---------------------------------------------------------------------------
    @app.get("/staff", response_class=HTMLResponse, include_in_schema=False)
    def staff_home(request: Request, who: Annotated[Identity, Depends(staff)]) -> Response:
        rows = [{"info": a, "students": len(cw.store.latest_run_ids(a.id))} for a in cw.assignments()]
        return page(request, "staff_home.html", who, rows=rows)

    @app.get("/staff/assignments/{assignment}", response_class=HTMLResponse, include_in_schema=False)
    def staff_overview(request: Request, assignment: str, who: Annotated[Identity, Depends(staff)]) -> Response:
        known(assignment)
        reports = staff_work.class_reports(cw, assignment)
        scores = [r.score for r in reports]
        return page(
            request, "staff_overview.html", who, info=cw.info(assignment), reports=reports, parts=overview(reports),
            mean=(sum(scores) / len(scores)) if scores else None, exports=staff_work.export_names(),
            total_histogram=Markup(staff_work.total_histogram(reports, cw.info(assignment).max_score)),
        )

    @app.get("/staff/assignments/{assignment}/manual", response_class=HTMLResponse, include_in_schema=False)
    def manual_page(request: Request, assignment: str, who: Annotated[Identity, Depends(staff)], part: str | None = None) -> Response:
        known(assignment)
        queue = staff_work.queue(cw, assignment)
        keys = {p.id: p for p in cw.part_keys(assignment)}
        return page(request, "staff_manual.html", who, info=cw.info(assignment), queue=queue, keys=keys, done=cw.store.manual_scores(assignment))

    @app.post("/staff/assignments/{assignment}/manual", include_in_schema=False)
    async def manual_post(request: Request, assignment: str, who: Annotated[Identity, Depends(staff)]) -> Response:
        form = await request.form()
        check_csrf(request, who, _field(form, "csrf_token"))
        known(assignment)
        try:
            await to_thread.run_sync(
                lambda: staff_work.record_manual(
                    cw, assignment, student=_field(form, "student") or "", part_id=_field(form, "part") or "",
                    items=[int(i) for i in form.getlist("rubric") if str(i).isdigit()],
                    score=_float(_field(form, "score")), comment=_field(form, "comment") or "", grader=who.student,
                )
            )
        except (LookupError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        await to_thread.run_sync(cw.scores_changed, assignment, [_field(form, "student") or ""])
        return RedirectResponse(f"/staff/assignments/{assignment}/manual", status_code=303)

    @app.post("/staff/assignments/{assignment}/override", include_in_schema=False)
    async def override_post(request: Request, assignment: str, who: Annotated[Identity, Depends(staff)]) -> Response:
        form = await request.form()
        check_csrf(request, who, _field(form, "csrf_token"))
        known(assignment)
        reason = (_field(form, "reason") or "").strip()
        if not reason:
            raise HTTPException(400, "an override needs a reason")
        try:
            score = _float(_field(form, "score"))
            await to_thread.run_sync(staff_work.override, cw, assignment, _field(form, "student") or "", _field(form, "part") or "", score, reason, who.student)
        except (LookupError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        await to_thread.run_sync(cw.scores_changed, assignment, [_field(form, "student") or ""])
        return RedirectResponse(f"/staff/assignments/{assignment}", status_code=303)

    @app.get("/staff/assignments/{assignment}/regrade", response_class=HTMLResponse, include_in_schema=False)
    async def regrade_page(request: Request, assignment: str, who: Annotated[Identity, Depends(staff)]) -> Response:
        known(assignment)
        plan = await staff_work.plan_regrade(cw, assignment)
        return page(request, "staff_regrade.html", who, info=cw.info(assignment), plan=plan, applied=False)

    @app.post("/staff/assignments/{assignment}/regrade", response_class=HTMLResponse, include_in_schema=False)
    async def regrade_apply(request: Request, assignment: str, who: Annotated[Identity, Depends(staff)]) -> Response:
        form = await request.form()
        check_csrf(request, who, _field(form, "csrf_token"))
        known(assignment)
        plan = await staff_work.plan_regrade(cw, assignment)
        await staff_work.apply_regrade(cw, plan)
        await to_thread.run_sync(cw.scores_changed, assignment, None)
        return page(request, "staff_regrade.html", who, info=cw.info(assignment), plan=plan, applied=True)

    @app.get("/staff/assignments/{assignment}/export/{name}", include_in_schema=False)
    def export(assignment: str, name: str, who: Annotated[Identity, Depends(staff)]) -> Response:
        known(assignment)
        try:
            filename, data, media = staff_work.export(cw, assignment, name)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from None
        return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    if lti.installed():  # the LTI tool's routes (grader[lti])
        from grader.service.lti import add_lti_routes

        add_lti_routes(app, cw, identities, page, identity, https_only=https_only)

    return app


def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _float(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise HTTPException(400, f"{text!r} is not a number") from None
    if value != value:
        raise HTTPException(400, "the score must be a number")
    return value
