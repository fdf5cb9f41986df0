"""Alembic's entry point for the grade store's migrations (`grader db upgrade`, `Store.open`).

The caller hands over a connection already inside a transaction (and, on PostgreSQL, holding
the migration lock): see grader.store.migrate. Run from the `alembic` command line instead,
the URL comes from `-x db=URL` or the config's sqlalchemy.url.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from grader.store.db import metadata

config = context.config


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    # render_as_batch: SQLite alters a table by copying it; autogenerate writes such revisions
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("db") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database: pass -x db=URL")
    with create_engine(url, poolclass=pool.NullPool).begin() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()


def run_migrations_offline() -> None:
    # `alembic upgrade --sql`: the SQL an admin may review and run by hand
    url = context.get_x_argument(as_dictionary=True).get("db") or config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
