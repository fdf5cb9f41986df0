"""The grade store's schema version: Alembic migrations (grader/store/migrations/) bring any
store to the newest revision.

`Store.open` calls `bring_to_head`: a store already at `HEAD_REVISION` costs one small query
and Alembic is not even imported (so `grader run` starts as fast as before); a new store (an
empty database) is created from the declared tables and stamped with the head revision, as
Alembic's documentation advises, again without importing it (tests/test_migrations.py checks
that the migrations, run from nothing, make exactly the same schema); a store made before
migrations existed (no version table) is adopted by the baseline revision. Several processes opening one store at once (web processes
and workers starting together) migrate it once: the check and the upgrade run in one
transaction that holds a lock — a PostgreSQL advisory lock, SQLite's write lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, Connection, Engine, MetaData, PrimaryKeyConstraint, String, Table, func, inspect, select, text

from grader.errors import StoreError
from grader.store import db

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest revision in migrations/versions (tests/test_migrations.py checks it is Alembic's
#: head): a new revision changes this line too.
HEAD_REVISION = "0004"

VERSION_TABLE = "alembic_version"
MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed 64-bit number: the advisory lock every grader process takes to migrate a
# PostgreSQL store (advisory locks are per database, so stores on one server do not wait on
# each other). "graderdb" in ASCII.
_PG_LOCK_KEY = 0x6772616465726462

# Alembic's version table, as Alembic itself creates it (for stamping a new store)
_version_table = Table(
    VERSION_TABLE, MetaData(), Column("version_num", String(32), nullable=False), PrimaryKeyConstraint("version_num", name="alembic_version_pkc")
)


def revisions(conn: Connection) -> set[str]:
    """The store's revision(s) as recorded in its version table; empty before any migration."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return set()
    return set(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def is_current(engine: Engine) -> bool:
    return revisions_of(engine) == {HEAD_REVISION}


def bring_to_head(engine: Engine) -> None:
    """Migrate the store to `HEAD_REVISION` unless it is there already."""
    if not is_current(engine):
        upgrade(engine)


def upgrade(engine: Engine) -> tuple[set[str], set[str]]:
    """Run the migrations the store lacks, under the migration lock; (revisions before, after)."""
    with engine.begin() as conn:
        _lock(conn)
        before = revisions(conn)  # again, under the lock: another process may have just done it
        if not before and not inspect(conn).get_table_names():
            # an empty database: the head's schema at once (the migrations would end in the
            # same tables, after importing Alembic and replaying every revision)
            db.metadata.create_all(conn)
            _version_table.create(conn)
            conn.execute(_version_table.insert().values(version_num=HEAD_REVISION))
        elif before != {HEAD_REVISION}:
            _check_known(before)
            from alembic import command
            from alembic.util.exc import CommandError

            config = alembic_config()
            config.attributes["connection"] = conn
            try:
                command.upgrade(config, "head")
            except CommandError as exc:
                raise StoreError(f"cannot migrate the grade store: {exc}") from exc
        after = revisions(conn)
    return before, after


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        # released when this transaction ends (commit or rollback): a process that dies
        # mid-migration leaves no lock behind, and its half-done DDL is rolled back
        conn.execute(select(func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
    elif conn.dialect.name == "sqlite":
        # pysqlite opens no transaction before DDL: take the write lock now, so the version
        # check and every CREATE/ALTER below are one transaction and a second process waits
        # (busy timeout) instead of creating the same tables
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _check_known(found: set[str]) -> None:
    """A revision this grader does not ship was written by a newer grader: say so plainly
    (Alembic's own message is "Can't locate revision")."""
    if not found:
        return
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = sorted(found - known)
    if unknown:
        raise StoreError(
            f"the grade store's schema is at revision {', '.join(unknown)}, which this grader "
            f"(schema {HEAD_REVISION}) does not know: it was upgraded by a newer grader; install that version"
        )


def alembic_config() -> Config:
    """Alembic's configuration for the grade store, from the migrations shipped in the package
    (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def heads() -> set[str]:
    """The head revision(s) of the shipped migrations, as Alembic reads them."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def store_revisions(url: str) -> set[str]:
    """The revision(s) of the store at `url`, read without migrating it (`grader db current`;
    a SQLite file that does not exist is not made)."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:") and not Path(url.removeprefix("sqlite:///")).exists():
        return set()
    with _engine(url, "cannot read the grade store") as engine:
        return revisions_of(engine)


def revisions_of(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return revisions(conn)


def upgrade_store(url: str) -> tuple[set[str], set[str]]:
    """Migrate the store at `url` to the head (`grader db upgrade`); (revisions before, after)."""
    with _engine(url, "cannot migrate the grade store") as engine:
        return upgrade(engine)


@contextmanager
def _engine(url: str, doing: str) -> Iterator[Engine]:
    """An engine for one command, disposed after; the database's errors as one StoreError line."""
    with db.store_errors(url, doing):
        engine = db.make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
