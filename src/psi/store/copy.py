"""Copying one psi database into another: a SQLite home into PostgreSQL for a shared server.

    copied = copy_database(source, target)        # {table: rows}, in dependency order

The target must be migrated and empty (no users yet): psi never merges two lives.
Every table the models describe is copied row for row with its ids, so tokens,
approvals and the egress ledger keep their meaning; rows that point at later rows
of their own table (a fact superseded by a newer one) are written first without
that link, then linked. What is derived is rebuilt by the target, not copied:
SQLite's FTS5 index becomes PostgreSQL's generated tsvector columns by itself, and
vectors move from SQLite's BLOBs into pgvector's column. Sequences then continue
after the highest id. APScheduler's job table is not copied: the scheduler plans
its jobs again from the goals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from sqlalchemy import Table, bindparam, func, select, text, update

from psi.errors import InputError, StoreError
from psi.store.db import Store
from psi.store.models import Base, User

BATCH = 500
# Tables whose vectors live in pgvector's `embedding` column on PostgreSQL.
VECTOR_TABLES = ("memory_items", "doc_chunks")


def copy_database(
    source: Store, target: Store, *, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy every row of `source` into the empty `target`; {table: rows copied}."""
    with target.session() as session:
        if session.scalar(select(func.count(User.id))):
            raise InputError(
                f"{target.where} already holds psi users; psi copies only into an empty database.",
                hint="Create a new database (createdb NAME) and copy into that.",
            )
    copied: dict[str, int] = {}
    with source.engine.connect() as reading, target.engine.begin() as writing:
        for table in Base.metadata.sorted_tables:
            links = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
            count = 0
            relinks: list[dict[str, Any]] = []
            for rows in _batches(reading, table):
                relinks += [
                    {"row_id": row["id"], **{f"new_{c}": row[c] for c in links}}
                    for row in rows
                    if any(row[c] is not None for c in links)
                ]
                for row in rows:
                    row.update(dict.fromkeys(links))
                vectors = _vectors(table, rows, target)
                writing.execute(table.insert(), rows)
                if vectors:
                    writing.execute(
                        text(
                            f"UPDATE {table.name} SET embedding = CAST(:vector AS vector) "
                            "WHERE id = :id"
                        ),
                        vectors,
                    )
                count += len(rows)
            if relinks:  # every row of the table is there now
                writing.execute(
                    update(table)
                    .where(table.c.id == bindparam("row_id"))
                    .values({c: bindparam(f"new_{c}") for c in links}),
                    relinks,
                )
            copied[table.name] = count
            if progress is not None:
                progress(table.name, count)
        if not target.is_sqlite:
            _continue_sequences(writing)
    _check(target, copied)
    return copied


def _check(target: Store, copied: dict[str, int]) -> None:
    """Every table of the target holds as many rows as were copied into it."""
    with target.engine.connect() as connection:
        wrong = [
            table.name
            for table in Base.metadata.sorted_tables
            if connection.scalar(select(func.count()).select_from(table)) != copied[table.name]
        ]
    if wrong:
        raise StoreError(
            f"The copy into {target.where} is incomplete in {', '.join(wrong)}.",
            hint="Drop that database, create it empty, and copy again.",
        )


def _batches(connection: Any, table: Table) -> Iterator[list[dict[str, Any]]]:
    result = connection.execute(select(table).order_by(*table.primary_key.columns))
    while chunk := result.mappings().fetchmany(BATCH):
        yield [dict(row) for row in chunk]


def _vectors(table: Table, rows: list[dict[str, Any]], target: Store) -> list[dict[str, Any]]:
    """On PostgreSQL, memory and document vectors go to pgvector's column (the BLOB stays
    empty)."""
    if table.name not in VECTOR_TABLES or target.is_sqlite:
        return []
    from psi.store.pgsearch import pg_vector

    moved = []
    for row in rows:
        blob = row.pop("vector", None)
        row["vector"] = None
        if blob:
            moved.append({"id": row["id"], "vector": pg_vector(np.frombuffer(blob, np.float32))})
    return moved


def _continue_sequences(connection: Any) -> None:
    """New rows continue after the copied ids (PostgreSQL's sequences do not see them)."""
    for table in Base.metadata.sorted_tables:
        if "id" not in table.columns or not table.columns["id"].primary_key:
            continue
        connection.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:table, 'id'), "
                f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)"
            ),
            {"table": table.name},
        )
