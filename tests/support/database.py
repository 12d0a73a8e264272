"""Looking inside a database the way a forensic reader would."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import inspect, text

from psi.store.db import Store


def all_rows(where: Path | Store) -> str:
    """Every row of every table (FTS shadow tables included) as text, one row a line.

    A SQLite file is read with sqlite3 itself; another database through its own engine,
    every table its schema lists."""
    if isinstance(where, Store):
        if not where.is_sqlite:
            return _all_rows_of(where)
        where = Path(where.url.removeprefix("sqlite:///"))
    database = sqlite3.connect(where)
    try:
        tables = [
            row[0] for row in database.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return "\n".join(
            repr(row) for table in tables for row in database.execute(f'SELECT * FROM "{table}"')
        )
    finally:
        database.close()


def _all_rows_of(store: Store) -> str:
    tables = inspect(store.engine).get_table_names()
    with store.engine.connect() as connection:
        return "\n".join(
            repr(tuple(row))
            for table in tables
            for row in connection.execute(text(f'SELECT * FROM "{table}"'))
        )
