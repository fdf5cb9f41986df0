"""`grader lti ...`: the course as an LTI 1.3 tool in an LMS (docs/service.md, "LTI 1.3").

    register   record a platform (issuer, client id, deployments, its URLs) and print the
               tool's configuration for the LMS admin
    config     print the tool's configuration JSON alone
    platforms  list the registered platforms
    push       send the scores still waiting (a platform was down), or the failed ones again
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from grader.cli.options import CourseOpt, DbOpt, course_of, open_store

if TYPE_CHECKING:
    from grader.course import Course

lti_app = typer.Typer(help="The course as an LTI 1.3 tool: register a platform, print the tool's configuration, send pending scores.", no_args_is_help=True)

UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="The service's public URL, as the LMS reaches it (kept in the store) [default: the one kept, else http://127.0.0.1:8000].", show_default=False),
]
DEFAULT_URL = "http://127.0.0.1:8000"


def _need_extra() -> None:
    from grader import lti

    if not lti.installed():
        typer.echo("error: LTI needs its extra (PyJWT with cryptography, httpx): pip install 'grader[lti]'", err=True)
        raise typer.Exit(2)


def _configuration(store, url: str | None, title: str) -> dict:  # type: ignore[no-untyped-def]
    from grader.lti.config import tool_configuration
    from grader.lti.keys import tool_key
    from grader.service.lti import TOOL_URL_SETTING
    from grader.store.lti import LtiStore

    lti = LtiStore(store)
    if url is not None:
        lti.keep_setting(TOOL_URL_SETTING, url.rstrip("/"), replace=True)
    base = lti.setting(TOOL_URL_SETTING) or DEFAULT_URL
    return tool_configuration(base, title=title, public_jwk=tool_key(lti).public_jwk())


@lti_app.command("register")
def register_command(
    issuer: Annotated[str, typer.Option("--issuer", help="The platform's issuer (iss), e.g. https://canvas.instructure.com.")],
    client_id: Annotated[str, typer.Option("--client-id", help="The client id the platform gave the tool.")],
    deployment: Annotated[list[str], typer.Option("--deployment", help="A deployment id allowed to launch (repeat for several).")],
    auth_url: Annotated[str, typer.Option("--auth-url", help="The platform's OIDC authorisation (auth login) URL.")],
    token_url: Annotated[str, typer.Option("--token-url", help="The platform's OAuth 2 token URL (for grade passback).")],
    jwks_url: Annotated[str, typer.Option("--jwks-url", help="The platform's public key set (JWKS) URL.")],
    token_audience: Annotated[str | None, typer.Option("--token-audience", help="The `aud` the token URL expects in the tool's assertion, when it is not the token URL itself.")] = None,
    url: UrlOpt = None,
    course: CourseOpt = None,
    db: DbOpt = None,
) -> None:
    """Record a platform (again: its settings are replaced) and print the tool's configuration
    JSON for the LMS admin (login initiation, launch and JWKS URLs, scopes, placements)."""
    _need_extra()
    from grader.store.lti import LtiStore

    for name, value in (("--auth-url", auth_url), ("--token-url", token_url), ("--jwks-url", jwks_url)):
        if not value.startswith(("https://", "http://")):
            typer.echo(f"error: {name} must be an http(s) URL, not {value!r}", err=True)
            raise typer.Exit(2)
    if not any(d.strip() for d in deployment):
        typer.echo("error: give the deployment id(s) with --deployment", err=True)
        raise typer.Exit(2)
    c = course_of(course, db=db)
    with open_store(c.out, c.store) as store:
        platform = LtiStore(store).register(issuer, client_id, [d.strip() for d in deployment if d.strip()], auth_url, token_url, jwks_url, token_audience)
        config = _configuration(store, url, c.title or "grader")
    typer.echo(f"Registered {platform.issuer} (client {platform.client_id}; deployments {', '.join(platform.deployment_ids)}).", err=True)
    typer.echo("Give the LMS admin this tool configuration:", err=True)
    typer.echo(json.dumps(config, indent=2))


@lti_app.command("config")
def config_command(url: UrlOpt = None, course: CourseOpt = None, db: DbOpt = None) -> None:
    """Print the tool's configuration JSON (the tool's key pair is made on first use)."""
    _need_extra()
    c = course_of(course, db=db)
    with open_store(c.out, c.store) as store:
        config = _configuration(store, url, c.title or "grader")
    typer.echo(json.dumps(config, indent=2))


@lti_app.command("platforms")
def platforms_command(course: CourseOpt = None, db: DbOpt = None) -> None:
    """List the registered platforms."""
    _need_extra()
    from grader.store.lti import LtiStore

    c = course_of(course, db=db)
    with open_store(c.out, c.store) as store:
        found = LtiStore(store).platforms()
    if not found:
        typer.echo("No platform registered: `grader lti register --issuer ... --client-id ... --deployment ...`.")
    for p in found:
        typer.echo(f"{p.issuer}  client {p.client_id}  deployments {', '.join(p.deployment_ids)}  token {p.token_url}")


@lti_app.command("push")
def push_command(
    failed: Annotated[bool, typer.Option("--failed", help="Also send again the scores that used up their attempts.")] = False,
    course: CourseOpt = None,
    db: DbOpt = None,
) -> None:
    """Send the scores waiting for their platform now. Exit 1 if some could still not be sent."""
    _need_extra()
    from grader.lti.keys import tool_key
    from grader.lti.passback import Passback
    from grader.store.lti import LtiStore

    c = course_of(course, db=db)
    with open_store(c.out, c.store) as store:
        passback = Passback(store, lambda: tool_key(LtiStore(store)))
        try:
            result = passback.push(include_failed=failed)
            stuck = LtiStore(store).posts(("pending", "failed"))
        finally:
            passback.close()
    typer.echo(f"Sent {result.sent} score(s); {result.pending} pending, {result.failed} failed.")
    for post in stuck[:20]:
        typer.echo(f"  {post.state:<8} {post.assignment} {post.student}: {post.last_error or 'not tried yet'}")
    raise typer.Exit(1 if result.pending or result.failed else 0)


def send_changed(store, course: "Course", assignment: str, students: list[str] | None = None) -> str | None:  # type: ignore[no-untyped-def]
    """After `grader manual` changed scores: the students' current scores to the LMS courses
    they launched from (in line), with a comment at the course's feedback level now; a line
    to print, or None when nothing goes to an LMS."""
    from grader import lti

    if not lti.installed():
        return None
    from datetime import datetime, timezone

    from grader.lti.keys import tool_key
    from grader.lti.passback import Passback
    from grader.report.policy import visible_report
    from grader.store.lti import LtiStore

    def view(report):  # type: ignore[no-untyped-def]
        return visible_report(report, course.assignment(report.assignment).feedback_level(datetime.now(timezone.utc)))

    passback = Passback(store, lambda: tool_key(LtiStore(store)), view=view)
    try:
        ids = passback.changed(assignment, students)
        if not ids:
            return None
        states = [p.state for p in (LtiStore(store).post(i) for i in ids) if p is not None]
    finally:
        passback.close()
    sent = states.count("sent")
    left = len(states) - sent
    return f"Sent {sent} score(s) to the LMS" + (f"; {left} could not be sent yet (`grader lti push` sends them)." if left else ".")


def register(app: typer.Typer) -> None:
    app.add_typer(lti_app, name="lti")
