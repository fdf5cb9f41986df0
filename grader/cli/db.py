"""`grader db upgrade|current`: the grade store's schema revision, for the admin of a shared
store (PostgreSQL behind several web processes and workers).

Every command migrates the store it opens anyway; `grader db upgrade` lets a deployment do it
once, before starting its processes, and `grader db current --check` tells a script whether
that is needed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from grader.cli.options import CourseOpt, DbOpt, OutOpt, course_of

db_app = typer.Typer(help="The grade store's schema: migrate it (upgrade) or show its revision (current).", no_args_is_help=True)


def _url(course, out, db) -> str:  # type: ignore[no-untyped-def]
    from grader.store.db import database_url

    c = course_of(course, out=out, db=db)
    return database_url(c.out, c.store)


def _shown(revisions: set[str]) -> str:
    return ", ".join(sorted(revisions)) if revisions else "none (a new store, or one made before migrations)"


@db_app.command("upgrade")
def upgrade_command(course: CourseOpt = None, out: OutOpt = None, db: DbOpt = None) -> None:
    """Bring the grade store's schema to the newest revision (creates a new store's tables)."""
    from grader.errors import StoreError
    from grader.store.db import shown_url
    from grader.store.migrate import HEAD_REVISION, upgrade_store

    url = _url(course, out, db)
    try:
        before, after = upgrade_store(url)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if before == after:
        typer.echo(f"{shown_url(url)}: already at revision {HEAD_REVISION} (head).")
    else:
        typer.echo(f"{shown_url(url)}: upgraded from {', '.join(sorted(before)) or 'no revision'} to {', '.join(sorted(after))} (head).")


@db_app.command("current")
def current_command(
    course: CourseOpt = None,
    out: OutOpt = None,
    db: DbOpt = None,
    check: Annotated[bool, typer.Option("--check", help="Exit with code 1 when the store is not at the newest revision.")] = False,
) -> None:
    """Show the grade store's schema revision and the newest one this grader knows (changes nothing)."""
    from grader.errors import StoreError
    from grader.store.db import shown_url
    from grader.store.migrate import HEAD_REVISION, store_revisions

    url = _url(course, out, db)
    try:
        found = store_revisions(url)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    current = found == {HEAD_REVISION}
    typer.echo(f"store:    {shown_url(url)}")
    typer.echo(f"revision: {_shown(found)}")
    typer.echo(f"head:     {HEAD_REVISION}" + (" (up to date)" if current else " (run `grader db upgrade`)"))
    if check and not current:
        raise typer.Exit(1)
