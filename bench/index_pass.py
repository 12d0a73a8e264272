"""Time one pass of memory's indexer as the history grows: it runs in the write lock.

    .venv/bin/python bench/index_pass.py [--sizes 1000,20000,100000] [--batch 85]
                                         [--passes 9] [--database sqlite|postgresql]

For each size, a fresh database gets that many messages of history (two-message
conversations, as `bench/load.py`'s turns make), indexed by `Memory.index_pending()`;
then `--passes` times, `--batch` new two-message conversations are stored and one pass
indexes them (the server gathers 0.2 s of replies a pass: at 400 replies/s about 85
conversations). Prints the median and best pass in milliseconds per size, and each
median's ratio to the smallest size's, measured in the same run: a pass should cost
the same at any size (ratio about 1), since it holds SQLite's one write lock while it
runs and every reply's writes wait behind it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from psi.memory.service import Memory
from psi.store.db import Store, open_store
from psi.store.models import Conversation, Message

START = datetime(2026, 1, 1, tzinfo=UTC)


def add_turns(store: Store, user_id: int, conversations: int, *, at: datetime) -> datetime:
    """`conversations` new conversations of a user's "hi" and psi's answer, stored in bulk
    (what is timed is the indexing, not this)."""
    with store.session() as session:
        first = session.execute(
            insert(Conversation).returning(Conversation.id, sort_by_parameter_order=True),
            [{"user_id": user_id, "title": "hi", "created_at": at, "updated_at": at}]
            * conversations,
        ).scalars().all()  # fmt: skip
        rows = []
        for n, conversation_id in enumerate(first):
            moment = at + timedelta(seconds=n)
            for role, content in (("user", "hi"), ("assistant", f"You said: hi ({n})")):
                rows.append({"conversation_id": conversation_id, "user_id": user_id,
                             "role": role, "content": content, "created_at": moment})  # fmt: skip
        session.execute(insert(Message), rows)
    return at + timedelta(seconds=conversations)


def measure(url: str, size: int, *, batch: int, passes: int) -> dict[str, Any]:
    store = open_store(url)
    try:
        user_id = store.ensure_user("bench")
        memory = Memory(store, user_id=user_id)
        at = START
        left = size // 2
        while left > 0:
            at = add_turns(store, user_id, min(5000, left), at=at)
            left -= min(5000, left)
            memory.index_pending(embed=False)
        history = memory.episodes.count()
        if not store.is_sqlite:
            # What autovacuum does to a table that grew: the planner's statistics. A
            # history bulk-loaded a moment ago has none, and seq scans look cheapest.
            with store.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "ANALYZE conversations, messages, memory_items"
                )
        times = []
        for _ in range(passes):
            at = add_turns(store, user_id, batch, at=at)
            began = time.perf_counter()
            made = memory.index_pending(embed=False)
            times.append((time.perf_counter() - began) * 1000)
            assert made == 2 * batch, made
        return {
            "history_messages": history,
            "pass_median_ms": round(statistics.median(times), 2),
            "pass_best_ms": round(min(times), 2),
        }
    finally:
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,20000,100000")
    parser.add_argument("--batch", type=int, default=85)
    parser.add_argument("--passes", type=int, default=9)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes takes whole numbers separated by commas, not {args.sizes!r}")
    if not sizes or min(sizes) < 2 or args.batch < 1 or args.passes < 1:
        parser.error("--sizes need 2 messages or more each; --batch and --passes at least 1")
    server = None
    if args.database == "postgresql":
        from psi.benchmarks.postgres import PostgresServer

        server = PostgresServer.find_or_start(durable=True)
        if server is None:
            raise SystemExit("PostgreSQL with pgvector is not installed: scripts/install-postgres")
    results = []
    run = {"batch": args.batch, "passes": args.passes}
    try:
        for size in sizes:
            if server is not None:
                results.append(measure(server.fresh_database(), size, **run))
                continue
            with tempfile.TemporaryDirectory(prefix="psi-index-") as home:
                results.append(measure(f"sqlite:///{home}/psi.db", size, **run))
    finally:
        if server is not None:
            server.stop()
    floor = results[0]["pass_median_ms"]
    for result in results:
        result["ratio_to_smallest"] = round(result["pass_median_ms"] / floor, 2)
    report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "database": args.database, "batch": args.batch, "results": results}  # fmt: skip
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
