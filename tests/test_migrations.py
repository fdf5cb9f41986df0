"""The grade store's schema goes through Alembic migrations, on SQLite and on PostgreSQL: a new
store is made by them and is exactly the schema the code declares; a store made before
migrations existed is adopted with its data; a store already at the head opens without
importing Alembic; processes opening one store at once migrate it once; `grader db`."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect, text
from typer.testing import CliRunner

from _store_fixtures import ASSIGNMENT, grade_class, store_url, write_problem  # noqa: F401 (fixtures)
from grader.cli import app
from grader.errors import StoreError
from grader.store import Store
from grader.store.db import metadata
from grader.store.migrate import HEAD_REVISION, VERSION_TABLE, alembic_config, heads

DATA = Path(__file__).parent / "data" / "store_before_migrations"
runner = CliRunner()


@contextmanager
def connection(url: str) -> Iterator[Connection]:
    """A connection in a transaction (committed at the end) on an engine of its own."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def differences(url: str) -> list:
    """What Alembic's autogenerate sees between the store at `url` and `metadata` (nothing, when
    the migrations made exactly the declared schema: types, nullability, indexes, keys)."""
    with connection(url) as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)


def versions(url: str) -> list[str]:
    with connection(url) as conn:
        return list(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def test_the_head_revision_the_store_checks_is_alembics_head() -> None:
    # Store.open compares the store's revision with HEAD_REVISION without importing Alembic:
    # a new revision that forgot to move the constant would leave stores unmigrated
    assert heads() == {HEAD_REVISION}


def test_a_new_store_is_exactly_the_declared_schema_at_the_head(store_url) -> None:
    with Store.open(None, store_url) as store:
        tables = set(inspect(store.engine).get_table_names())
    assert {t.name for t in metadata.sorted_tables} | {VERSION_TABLE} == tables
    assert versions(store_url) == [HEAD_REVISION]
    assert differences(store_url) == []


def test_the_migrations_from_nothing_make_the_declared_schema(store_url) -> None:
    # a new store is created from `metadata` and stamped (no Alembic import on a first run):
    # that is right only while replaying every revision from an empty database ends the same
    from alembic import command

    with connection(store_url) as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    assert versions(store_url) == [HEAD_REVISION] and differences(store_url) == []
    with Store.open(None, store_url) as store:  # and the grader takes it as it is
        store.begin_run("test", kind="run")


def test_the_migrations_go_down_and_up_again(store_url) -> None:
    from alembic import command

    with Store.open(None, store_url):
        pass
    with connection(store_url) as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    with connection(store_url) as conn:
        assert set(inspect(conn).get_table_names()) <= {VERSION_TABLE}
    with Store.open(None, store_url):
        pass
    assert versions(store_url) == [HEAD_REVISION] and differences(store_url) == []


def _old_store(url: str) -> None:
    """A store as the first grader with a store wrote it (tests/data/store_before_migrations)."""
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    script = (DATA / f"{dialect}.sql").read_text()
    engine = create_engine(url)
    try:
        raw = engine.raw_connection()
        try:
            if dialect == "sqlite":
                raw.driver_connection.executescript(script)
            else:
                raw.cursor().execute(script)
            raw.commit()
        finally:
            raw.close()
        assert not inspect(engine).has_table(VERSION_TABLE) and not inspect(engine).has_table("service_submissions")
    finally:
        engine.dispose()


def test_a_store_made_before_migrations_is_adopted_with_its_grades(store_url, tmp_path) -> None:
    from grader.store import ManualScore
    from grader.variants.variant import Variant

    _old_store(store_url)
    with Store.open(None, store_url) as store:
        ann = store.reports(ASSIGNMENT)[0]  # the old rows, with the manual score merged
        assert (ann.student, ann.score, [p.id for p in ann.parts]) == ("ann", 6.0, ["q1", "q3"])
        assert store.runs()[0].started_at == datetime(2026, 3, 12, 21, 30, tzinfo=timezone.utc)
        # the columns and tables added since then work: a variant, revealing feedback, rubric items
        report = grade_class(write_problem(tmp_path / "problems").parent)[1]
        report = report.model_copy(update={
            "variant": Variant(code="1-ABCD-EFGH", values={"x": [1, 2, 3]}),
            "parts": [report.parts[0].model_copy(update={"reveals": "The expected value is 3."})] + report.parts[1:],
        })
        run = store.begin_run("grader run subs")
        assert run == 2  # the sequence moves on past the old rows
        store.record_report(run, report)
        store.set_manual_score(ManualScore(assignment=ASSIGNMENT, student="bob", part_id="q3", score=1, at=datetime.now(timezone.utc), items=[{"number": 1, "text": "idea", "marks": 1}]))
        back = {r.student: r for r in store.latest_reports(ASSIGNMENT)}["bob"]
        assert back.variant == report.variant and back.parts[0].reveals == "The expected value is 3."
        assert [i.text for i in store.manual_scores(ASSIGNMENT, "bob")[0].items] == ["idea"]
    assert versions(store_url) == [HEAD_REVISION]
    assert differences(store_url) == []


def _open_in_subprocess(url: str) -> subprocess.CompletedProcess:
    code = textwrap.dedent(
        f"""
        import sys
        from grader.store import Store
        with Store.open(None, {url!r}) as store:
            store.runs()
        print("alembic" in sys.modules)
        """
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_a_new_store_and_one_at_the_head_open_without_importing_alembic(store_url) -> None:
    first = _open_in_subprocess(store_url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["False"]  # a new store: made at the head, no Alembic either
    assert versions(store_url) == [HEAD_REVISION]
    again = _open_in_subprocess(store_url)
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == ["False"]  # at the head: one query, no Alembic


def test_processes_opening_a_new_store_at_once_migrate_it_once(store_url) -> None:
    # web processes and workers starting together on one fresh store: all open it, none fails
    # on a table another one created, and the version table has one row
    start_at = time.time() + 3.0  # after every interpreter has started
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AT.format(url=store_url, start_at=start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        outcomes.append((proc.returncode, err.strip().splitlines()[-1:] if err.strip() else []))
    assert [rc for rc, _ in outcomes] == [0, 0, 0, 0], outcomes
    assert versions(store_url) == [HEAD_REVISION]
    assert differences(store_url) == []


_OPEN_AT = """
import time
from grader.store import Store
import grader.store.migrate, alembic.command  # imported before the start: the race is the migration
time.sleep(max(0.0, {start_at!r} - time.time()))
with Store.open(None, {url!r}) as store:
    store.runs()
"""


def test_a_store_upgraded_by_a_newer_grader_is_refused_plainly(store_url) -> None:
    with Store.open(None, store_url):
        pass
    with connection(store_url) as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = 'ffff0099'"))
    with pytest.raises(StoreError, match="revision ffff0099, which this grader .* does not know: it was upgraded by a newer grader"):
        Store.open(None, store_url)


def test_grader_db_current_and_upgrade(store_url, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no course file around: the store is the one given
    r = runner.invoke(app, ["db", "current", "--db", store_url, "--check"])
    assert r.exit_code == 1 and "revision: none" in r.output and "run `grader db upgrade`" in r.output, r.output
    if store_url.startswith("sqlite"):
        assert not Path(store_url.removeprefix("sqlite:///")).exists()  # looking made no file
    r = runner.invoke(app, ["db", "upgrade", "--db", store_url])
    assert r.exit_code == 0 and f"upgraded from no revision to {HEAD_REVISION} (head)" in r.output, r.output
    assert differences(store_url) == []
    r = runner.invoke(app, ["db", "upgrade", "--db", store_url])
    assert r.exit_code == 0 and f"already at revision {HEAD_REVISION}" in r.output, r.output
    monkeypatch.setenv("GRADER_DB", store_url)  # the deployment's way: one variable for every process
    r = runner.invoke(app, ["db", "current", "--check"])
    assert r.exit_code == 0 and f"revision: {HEAD_REVISION}" in r.output and "(up to date)" in r.output, r.output


def test_grader_db_says_plainly_when_the_store_cannot_be_reached(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["db", "upgrade", "--db", "postgresql+psycopg://root@127.0.0.1:1/none"])
    assert r.exit_code == 2 and "error: cannot migrate the grade store postgresql+psycopg://root@127.0.0.1:1/none" in r.output, r.output
    assert "Traceback" not in r.output
