"""`psi serve` with `server.workers` > 1: what each of uvicorn's worker processes runs.

    uvicorn.run("psi.server.worker:app", factory=True, workers=2)

Each worker builds its own app from the settings (PSI_HOME and the environment it
inherits): its own connection pool, model objects, per-user memory and token cache.
What must happen once is kept in the database: the goal scheduler runs where the lease
is held (psi.server.scheduler), and memory indexing runs one pass at a time per user
(psi.memory.episodes). Per process, and so N times over with N workers: the rate limit
of a token (`server.rate_limit`), and the minute a revoked token may still be accepted
by a worker that verified it before.
"""

from __future__ import annotations

from fastapi import FastAPI


def app() -> FastAPI:
    from psi.config import load_settings
    from psi.server.app import create_app

    settings = load_settings()
    return create_app(settings, schedule=settings.server.scheduler)
