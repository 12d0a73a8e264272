"""`psi serve` with `server.workers` > 1: N worker processes and the parent that keeps them.

    serve_workers(settings, host="127.0.0.1", port=8765, workers=2)

Each worker builds its own app from the settings (PSI_HOME and the environment it
inherits): its own connection pool, model objects, per-user memory and token cache.
With server.pin_cores, worker N keeps its Python threads on the Nth core (psi.cores). On
Linux each listens on a socket of its own in one SO_REUSEPORT group (psi.server.listen),
so the kernel spreads connections across them; elsewhere they share uvicorn's one
socket. The parent restarts a worker that dies, and on Ctrl-C or SIGTERM asks each to
stop (uvicorn's graceful shutdown: server.shutdown_timeout for running requests).

What must happen once is kept in the database: the goal scheduler runs where the lease
is held (psi.server.scheduler), and memory indexing runs one pass at a time per user
(psi.memory.episodes). Per process, and so N times over with N workers: the rate limit
of a token (`server.rate_limit`), and the minute a revoked token may still be accepted
by a worker that verified it before.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from typing import Any

from fastapi import FastAPI

from psi.config import Settings

log = logging.getLogger(__name__)

# uvicorn's exit code when a server cannot start (the app failed to load, say).
STARTUP_FAILURE = 3


def uvicorn_config(app: FastAPI, settings: Settings, *, host: str, port: int) -> Any:
    """How every psi serve process runs uvicorn: warnings only, and no access log (it was
    filtered out at that level anyway, after building each line's client address and
    path); server.shutdown_timeout for running requests when told to stop."""
    import uvicorn

    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False,
        timeout_graceful_shutdown=settings.server.shutdown_timeout,
    )  # fmt: skip


def app() -> FastAPI:
    """A worker's app, for uvicorn's own multiprocess mode (systems without SO_REUSEPORT)."""
    from psi.config import load_settings

    return _app(load_settings())


def _app(settings: Settings) -> FastAPI:
    from psi.server.app import create_app

    return create_app(settings, schedule=settings.server.scheduler)


def serve_workers(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Run `workers` server processes on host:port until Ctrl-C or SIGTERM."""
    from psi.server import listen

    if not listen.balanced():
        import uvicorn

        uvicorn.run(
            "psi.server.worker:app", factory=True, workers=workers, host=host, port=port,
            log_level="warning", access_log=False,
            timeout_graceful_shutdown=settings.server.shutdown_timeout,
        )  # fmt: skip
        return
    listen.check_free(host, port)
    spawn = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def start(index: int) -> Any:
        process = spawn.Process(
            target=_worker, args=(host, port, index), name=f"psi-serve-worker-{index}"
        )
        process.start()
        return process

    def stop(signum: int, frame: object) -> None:
        stopping.set()

    for name in ("SIGINT", "SIGTERM"):
        signal.signal(getattr(signal, name), stop)
    processes = [start(index) for index in range(workers)]
    failed = False
    try:
        while not stopping.wait(0.5):
            for i, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    failed = True
                    stopping.set()
                    break
                log.warning("psi serve worker %s stopped (%s); starting another",
                            process.pid, process.exitcode)  # fmt: skip
                processes[i] = start(i)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        for process in processes:
            process.join(settings.server.shutdown_timeout + 10)
            if process.is_alive():
                process.kill()
                process.join()
    if failed:
        raise SystemExit(1)


def _worker(host: str, port: int, index: int) -> None:
    import uvicorn

    from psi import cores
    from psi.config import load_settings
    from psi.server import listen

    settings = load_settings()
    if settings.server.pin_cores:
        cores.pin(index)  # worker N on the Nth core, before its app starts any thread
    config = uvicorn_config(_app(settings), settings, host=host, port=port)
    uvicorn.Server(config).run(sockets=[listen.listener(host, port)])
