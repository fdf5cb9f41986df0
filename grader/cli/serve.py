"""`grader serve` (the web service), `grader token` (personal access links) and `grader check`
(how an answer file is read, offline, without grading)."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from grader.cli.options import CourseOpt, DbOpt, course_of
from grader.cli.worker import BrokerOpt

if TYPE_CHECKING:
    from grader.service.courseware import Courseware


def serve_command(
    course: CourseOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    db: DbOpt = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Grading worker processes.")] = 1,
    budget: Annotated[float, typer.Option("--budget", min=0.1, help="Seconds allowed per part before it is stopped.")] = 2.0,
    check_limit: Annotated[float, typer.Option("--check-limit", min=0.01, help="Live checks per second per person (bursts of twice that).")] = 20.0,
    submit_limit: Annotated[float, typer.Option("--submit-limit", min=0.01, help="Submissions per second per person (bursts of 5 at least).")] = 1.0,
    broker: BrokerOpt = None,
    wait: Annotated[
        float | None,
        typer.Option("--wait", min=0, max=60, help="On the queue: seconds a submission waits for its grade before it is answered 202 [default: the course file's [queue] wait, 3].", show_default=False),
    ] = None,
) -> None:
    """Serve the course: students check and submit on a web page, staff grade and watch (docs/service.md)."""
    try:
        import uvicorn

        from grader.service.app import create_app
    except ImportError as exc:
        typer.echo(f"error: the web service needs its extras ({exc.name} is missing): pip install 'grader[serve]'", err=True)
        raise typer.Exit(2) from None
    from grader.service.courseware import Courseware
    from grader.service.limits import Rate

    c = course_of(course)
    cw = Courseware(c, db, budget=budget, workers=workers, wait=c.queue.wait if wait is None else wait)
    for note in cw.catalog.notes + cw.catalog.errors:
        typer.echo(f"note: {note}", err=True)
    on_queue = _connect_queue(cw, broker, budget)
    typer.echo(f"Serving {c.title or c.root} ({len(cw.catalog.assignments)} assignments) on http://{host}:{port}/{on_queue}", err=True)
    typer.echo("Give each student a link with `grader token STUDENT` (staff: `grader token --staff NAME`).", err=True)
    try:
        # what was loaded at start lives as long as the server: keep it out of the collector's
        # passes, which otherwise walk it on every full collection (pauses in the latency tail)
        gc.freeze()
        app = create_app(cw, check_rate=Rate(check_limit, 2 * check_limit), submit_rate=Rate(submit_limit, max(5.0, 2 * submit_limit)))
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        cw.close()


def _connect_queue(cw: "Courseware", broker: str | None, budget: float) -> str:
    """With a broker (--broker, $GRADER_BROKER_URL or [queue] broker), submissions go to the
    workers; what to say about it when the service starts."""
    c = cw.course
    try:
        from grader.queue.app import broker_url, make_app, queue_config
        from grader.queue.dispatch import CeleryDispatcher
    except ImportError as exc:
        if broker or os.environ.get("GRADER_BROKER_URL") or c.queue.broker:
            typer.echo(f"error: grading on the queue needs its extras ({exc.name} is missing): pip install 'grader[queue]'", err=True)
            raise typer.Exit(2) from None
        return ""
    url = broker_url(c, broker)
    if url is None:
        return ""
    from grader.store.db import shown_url

    cfg = queue_config(c, url, cw.catalog.keys, budget)
    cw.dispatcher = CeleryDispatcher(make_app(cfg), cfg)
    return f"; submissions go to the workers of queue {cfg.name!r} on {shown_url(url)} (start them with `grader worker`)"


def token_command(
    student: Annotated[str | None, typer.Argument(help="A student id of the roster.")] = None,
    staff: Annotated[str | None, typer.Option("--staff", help="Make a staff token for this name instead.")] = None,
    revoke: Annotated[bool, typer.Option("--revoke", help="Revoke every token of this student (or --staff NAME).")] = False,
    course: CourseOpt = None,
    db: DbOpt = None,
    base_url: Annotated[str, typer.Option("--url", help="Where the service is reached, for the link.")] = "http://127.0.0.1:8000",
) -> None:
    """Print a personal access link and token (the token is the last line); --revoke ends them."""
    from grader.lms.roster import read_roster
    from grader.store.repository import Store
    from grader.store.service import ServiceStore

    if (student is None) == (staff is None):
        typer.echo("error: give a STUDENT or --staff NAME (one of the two)", err=True)
        raise typer.Exit(2)
    c = course_of(course)
    subject, role = (staff, "staff") if staff is not None else (student, "student")
    assert subject is not None
    if role == "student" and c.roster is not None and not revoke:
        roster = read_roster(c.roster)
        if subject not in roster:
            typer.echo(f"error: {subject!r} is not in the roster {c.roster}", err=True)
            raise typer.Exit(2)
    with Store.open(c.out, db or c.store) as store:
        service = ServiceStore(store)
        if revoke:
            n = service.revoke(subject, role)
            typer.echo(f"Revoked {n} token(s) of {role} {subject}.")
            return
        token = service.issue_token(subject, role)
    typer.echo(f"Personal link for {role} {subject} (keep it private):")
    typer.echo(f"{base_url.rstrip('/')}/login?token={token}")
    typer.echo(token)


def check_command(
    answers: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Your answer file (TOML, YAML or JSON).")],
    course: CourseOpt = None,
    assignment: Annotated[str | None, typer.Option("--assignment", help="For a file that names no assignment.")] = None,
) -> None:
    """How each answer in a file is read, and which parts are missing or unreadable, without grading."""
    from grader.keys.catalog import Catalog
    from grader.models import BrokenSubmission
    from grader.submission import read_submission

    c = course_of(course)
    sub = read_submission(answers, assignment_default=assignment)
    if isinstance(sub, BrokenSubmission):
        typer.echo(f"error: {sub.reason}", err=True)
        raise typer.Exit(2)
    catalog = Catalog(c.problems, c.reference, c)
    grader = catalog.grader(sub.assignment)
    if grader is None:
        typer.echo(f"error: unknown assignment {sub.assignment!r}; known: {', '.join(catalog.assignments)}", err=True)
        raise typer.Exit(2)
    for w in sub.warnings:
        typer.echo(f"warning: {w}")
    counts = {"ok": 0, "invalid": 0, "missing": 0, "error": 0}
    for part in grader.key.parts:
        reading = grader.read(part.id, sub.answers.get(part.id))
        counts[reading.status] += 1
        if reading.status == "ok":
            typer.echo(f"ok       {part.id}: read as {reading.read_as}" if reading.read_as is not None else f"ok       {part.id}: {reading.message}")
        else:
            typer.echo(f"{reading.status:<8} {part.id}: {reading.message}")
    for unknown in sorted(set(sub.answers) - {p.id for p in grader.key.parts}):
        typer.echo(f"unknown  {unknown}: not a part of {sub.assignment} (ignored)")
    typer.echo(f"{counts['ok']} read, {counts['invalid']} unreadable, {counts['missing']} missing (not graded: `grader check` only reads).")
    raise typer.Exit(1 if counts["invalid"] or counts["error"] else 0)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.command("token")(token_command)
    app.command("check")(check_command)
