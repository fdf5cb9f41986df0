"""`grader xqueue`: grade an edX course's external-grader queue (docs/xqueue.md).

Credentials never go on the command line (where `ps` shows them to every user): they come
from GRADER_XQUEUE_USERNAME and GRADER_XQUEUE_PASSWORD, or from a TOML file given with
--credentials (`username = "..."`, `password = "..."`) that only its owner may read.

Exit codes: 0 when stopped (SIGTERM, Ctrl-C) or, with --once, when the queue is empty; 1 when
XQueue cannot be reached (after the retries); 2 for what the operator must fix (no or wrong
credentials, an unknown queue, a course or store that cannot be opened).
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import threading
import tomllib
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer

from grader.cli.options import CourseOpt, DbOpt, course_of

USER_VAR, PASSWORD_VAR = "GRADER_XQUEUE_USERNAME", "GRADER_XQUEUE_PASSWORD"


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def read_credentials(path: Path | None):  # -> Credentials
    from grader.xqueue.client import Credentials

    if path is None:
        user, password = os.environ.get(USER_VAR), os.environ.get(PASSWORD_VAR)
        if not user or password is None:
            raise _fail(f"no XQueue credentials: set {USER_VAR} and {PASSWORD_VAR}, or give --credentials FILE", 2)
        return Credentials(user, password)
    try:
        info = path.stat()
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _fail(f"cannot read the credentials file {path}: {exc}", 2) from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        typer.echo(f"warning: {path} can be read by other users; `chmod 600 {path}`", err=True)
    user, password = data.get("username"), data.get("password")
    if not isinstance(user, str) or not user or not isinstance(password, str):
        raise _fail(f"{path} must give username = \"...\" and password = \"...\"", 2)
    return Credentials(user, password)


def xqueue_command(
    url: Annotated[str, typer.Option("--url", help="The XQueue server, e.g. https://xqueue.example.org.")],
    queue: Annotated[str, typer.Option("--queue", help="The queue to grade (the problem's queuename).")],
    course: CourseOpt = None,
    db: DbOpt = None,
    credentials: Annotated[
        Path | None,
        typer.Option("--credentials", help=f"TOML file with username and password [default: ${USER_VAR} and ${PASSWORD_VAR}].", show_default=False),
    ] = None,
    poll: Annotated[float, typer.Option("--poll", min=0.05, help="Seconds between polls of an empty queue.")] = 5.0,
    once: Annotated[bool, typer.Option("--once", help="Answer what is queued, then exit (instead of polling for ever).")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Grading worker processes; as many submissions are graded at once.")] = 1,
    budget: Annotated[float, typer.Option("--budget", min=0.1, help="Seconds allowed per part before it is stopped.")] = 2.0,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds to wait for XQueue's answer to one request.")] = 30.0,
    retries: Annotated[int, typer.Option("--retries", min=1, max=20, help="Tries per request while the network or XQueue fails (waits 0.5 s, 1 s, 2 s, ... up to 8 s between).")] = 6,
) -> None:
    """Grade an edX external-grader queue: pull from XQueue, grade, post {correct, score, msg} (docs/xqueue.md)."""
    try:
        import httpx  # noqa: F401
    except ImportError as exc:
        raise _fail(f"the XQueue client needs its extra ({exc.name} is missing): pip install 'grader[xqueue]'", 2) from None
    from grader.errors import StoreError
    from grader.service.courseware import Courseware
    from grader.xqueue.client import LoginRefused, Retry, Unreachable, UnknownQueue, XQueueClient, XQueueError
    from grader.xqueue.puller import Puller

    who = read_credentials(credentials)
    c = course_of(course)
    stopping = threading.Event()

    def log(line: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        print(f"{stamp} xqueue {queue}: {line}", file=sys.stderr, flush=True)

    def stop(signum: int, _frame: object) -> None:
        log(f"{signal.Signals(signum).name}: finishing the submission under way, then stopping")
        stopping.set()

    client = XQueueClient(url, who, timeout=timeout, retry=Retry(tries=retries), stopping=stopping, log=log)
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    cw = None
    try:
        # XQueue first: wrong credentials or queue are told before the course is loaded
        client.login()
        length = client.queue_length(queue)
        log(f"logged in to {client.url} as {who.username}; {length} submission(s) queued")
        try:
            cw = Courseware(c, db, budget=budget, workers=workers)
        except StoreError as exc:
            raise _fail(str(exc), 2) from None
        for note in cw.catalog.notes + cw.catalog.errors:
            log(f"note: {note}")
        puller = Puller(cw, client, queue, poll=poll, parallel=workers, stopping=stopping, log=log)
        log(f"grading {len(cw.catalog.assignments)} assignment(s) of {c.title or c.root}")
        puller.resume()
        puller.run(once=once)
    except LoginRefused as exc:
        raise _fail(str(exc), 2) from None
    except UnknownQueue as exc:
        raise _fail(str(exc), 2) from None
    except Unreachable as exc:
        if stopping.is_set():
            log("stopped")
            return
        raise _fail(str(exc), 1) from None
    except XQueueError as exc:
        raise _fail(str(exc), 1) from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        client.close()
        if cw is not None:
            cw.close()
    log("stopped" if stopping.is_set() else "the queue is empty")


def register(app: typer.Typer) -> None:
    app.command("xqueue")(xqueue_command)
