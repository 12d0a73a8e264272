"""Looking inside a SQLite file the way a forensic reader would."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def all_rows(path: Path) -> str:
    """Every row of every table (FTS shadow tables included) as text, one row a line."""
    database = sqlite3.connect(path)
    try:
        tables = [
            row[0] for row in database.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return "\n".join(
            repr(row) for table in tables for row in database.execute(f'SELECT * FROM "{table}"')
        )
    finally:
        database.close()
