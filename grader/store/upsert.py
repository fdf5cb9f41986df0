"""Insert-or-update of one row by its primary key, atomic on every backend the store uses.

"Update, and insert if nothing matched" races on PostgreSQL: two requests saving the same new
draft (or two staff scoring one part) both find nothing and both insert, and one fails on the
key. INSERT ... ON CONFLICT DO UPDATE (SQLite >= 3.24 and PostgreSQL alike, through each
dialect's own construct) decides in the database.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, insert, update

# The dialects whose own INSERT has ON CONFLICT, imported when first used (PostgreSQL's is a
# sixth of the grade store's import, which a run on SQLite never needs).
_ON_CONFLICT = ("sqlite", "postgresql")


def upsert(conn: Connection, table: Table, values: dict[str, Any], changing: Sequence[str]) -> None:
    """Insert `values`, or, when a row with the same primary key exists, set its `changing` columns."""
    key = [c.name for c in table.primary_key.columns]
    if conn.dialect.name in _ON_CONFLICT:
        dialect = importlib.import_module(f"sqlalchemy.dialects.{conn.dialect.name}")
        statement = dialect.insert(table).values(values)
        conn.execute(statement.on_conflict_do_update(index_elements=key, set_={c: statement.excluded[c] for c in changing}))
        return
    # another database: portable, safe where the transaction isolation serialises writers
    match = and_(*(table.c[k] == values[k] for k in key))
    if conn.execute(update(table).where(match).values({c: values[c] for c in changing})).rowcount == 0:
        conn.execute(insert(table).values(values))
