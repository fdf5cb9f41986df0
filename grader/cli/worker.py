"""`grader worker`: a Celery worker grading the course's submissions from the queue."""

from __future__ import annotations

from typing import Annotated

import typer

from grader.cli.options import CourseOpt, DbOpt, course_of

BrokerOpt = Annotated[
    str | None,
    typer.Option("--broker", help="Celery broker URL, e.g. redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1:5672// [default: $GRADER_BROKER_URL, else the course file's [queue] broker].", show_default=False),
]


def worker_command(
    course: CourseOpt = None,
    broker: BrokerOpt = None,
    db: DbOpt = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256, help="Worker processes (each grades one submission at a time).")] = 2,
    max_tasks_per_child: Annotated[int, typer.Option("--max-tasks-per-child", min=1, max=100_000, help="Replace a worker process after this many submissions (a new one imports torch and the problem sets again).")] = 5000,  # grader.queue.app.MAX_TASKS_PER_CHILD
    budget: Annotated[float, typer.Option("--budget", min=0.1, help="Seconds allowed per part before it is stopped (as `grader serve --budget`).")] = 2.0,
    hostname: Annotated[str | None, typer.Option("--hostname", help="This worker's name in the logs and in `celery inspect` [default: celery@HOST].", show_default=False)] = None,
    loglevel: Annotated[str, typer.Option("--loglevel", help="DEBUG, INFO (one line per submission), WARNING or ERROR.")] = "INFO",
) -> None:
    """Grade submissions from the queue: a Celery worker over the course's broker and store.

    Run one or more next to `grader serve --broker URL`, on this machine or others that reach
    the same broker and store (docs/service.md). Each job is claimed with a lease; a worker
    that dies leaves its job to be re-queued by another worker's sweeper. Stop with Ctrl-C or
    SIGTERM (running submissions finish first)."""
    try:
        from grader.queue.app import broker_url, queue_config
        from grader.queue.worker import run_worker
    except ImportError as exc:
        typer.echo(f"error: the worker needs its extras ({exc.name} is missing): pip install 'grader[queue,serve]'", err=True)
        raise typer.Exit(2) from None
    from grader.errors import StoreError
    from grader.service.courseware import Courseware

    c = course_of(course)
    url = broker_url(c, broker)
    if url is None:
        typer.echo("error: no broker: give --broker URL, set GRADER_BROKER_URL, or [queue] broker in grader.toml", err=True)
        raise typer.Exit(2)
    level = loglevel.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        typer.echo(f"error: --loglevel {loglevel!r}: choose DEBUG, INFO, WARNING or ERROR", err=True)
        raise typer.Exit(2)
    try:
        cw = Courseware(c, db, budget=budget, workers=1)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for note in cw.catalog.notes + cw.catalog.errors:
        typer.echo(f"note: {note}", err=True)
    cfg = queue_config(c, url, cw.catalog.keys, budget, max_tasks_per_child=max_tasks_per_child)
    from grader.store.db import shown_url

    typer.echo(
        f"Worker for {c.title or c.root} ({len(cw.catalog.assignments)} assignments): broker {shown_url(url)}, queue {cfg.name!r}, "
        f"{concurrency} process(es), store {cw.store.url}",
        err=True,
    )
    try:
        code = run_worker(cw, cfg, concurrency=concurrency, hostname=hostname, loglevel=level)
    finally:
        cw.close()
    raise typer.Exit(code)
