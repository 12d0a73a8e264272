"""Load on `psi serve` with the scripted model, beside a bare FastAPI endpoint in one run.

    python bench/load.py [--clients 50] [--seconds 30] [--database sqlite|postgresql|both]
                         [--workers 1] [--warmup 5] [--json OUT]

Starts the servers on 127.0.0.1, each its own process (uvicorn, `--workers` worker
processes each), on a fresh PSI_HOME whose default model is the scripted one (no model
compute: what is measured is psi around the model):
- psi `POST /v1/chat/completions`: a full turn (guard on the user's message and the
  answer, memory recall, the context, the store, the conversation written);
- psi `GET /api/memories/search` over a few hundred stored messages;
- a bare FastAPI app answering the same JSON shape with no work: the floor.
psi runs on SQLite (a file in PSI_HOME) and/or PostgreSQL (a throwaway server with
pgvector started for the run, psi.benchmarks.postgres, durable but not waiting for the
WAL flush at commit, as SQLite's WAL at synchronous=NORMAL does not), each on a fresh home.
`--clients` asyncio clients (aiohttp, one keep-alive connection each) send requests back
to back for `--seconds` each,
after `--warmup` seconds of the same load that are not counted (a fresh process's
first requests import modules, compile SQL and open connections: up to a second each);
search runs before chat, whose turns add to the memory searched (each turn is a new
conversation of two messages, so the memory grows by two episodes a turn).
Reported per target: requests/s, p50 and p99 latency, errors (non-2xx or failed), and the
overhead ratio p50(psi) / p50(bare), and the load generator's own CPU per request
(`client_cpu_ms`): it runs on the same cores as the servers, so it is an aiohttp client,
about a quarter of httpx's CPU per request (0.10 against 0.45 ms on the bare endpoint).
Targets: 0 errors; chat p99 <= 150 ms at 50 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx2

BARE = """
from fastapi import FastAPI
app = FastAPI()

@app.post("/v1/chat/completions")
def chat(body: dict) -> dict:
    return {"object": "chat.completion", "choices": [{"index": 0, "message":
            {"role": "assistant", "content": "You said: hi"}, "finish_reason": "stop"}]}
"""

BODY = {"model": "psi", "messages": [{"role": "user", "content": "hi"}]}

CONFIG = """
default_model = "demo"
[server]
rate_limit = "100000000/minute"
[models.demo]
backend = "scripted"
model = "demo"
local = true
open_weight = true
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, headers: dict[str, str], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx2.get(url, headers=headers, timeout=1.0)
            return
        except httpx2.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def measured(
    method: str, url: str, *, warmup: float, headers: dict[str, str], **kw: Any
) -> dict[str, Any]:
    """`hammer` after `warmup` seconds of the same load, which are not counted."""
    if warmup > 0:
        asyncio.run(hammer(method, url, **{**kw, "seconds": warmup}, headers=headers))
    return asyncio.run(hammer(method, url, headers=headers, **kw))


async def hammer(
    method: str, url: str, *, clients: int, seconds: float, headers: dict[str, str], **kw: Any
) -> dict[str, Any]:
    times: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=30.0)
    cpu = time.process_time()
    async with aiohttp.ClientSession(
        connector=connector, headers=headers, timeout=timeout
    ) as client:

        async def one() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                start = time.perf_counter()
                try:
                    async with client.request(method, url, **kw) as response:
                        await response.read()
                        ok = response.status < 300
                except (TimeoutError, aiohttp.ClientError):
                    ok = False
                times.append(time.perf_counter() - start)
                errors += not ok

        began = time.monotonic()
        await asyncio.gather(*(one() for _ in range(clients)))
        took = time.monotonic() - began
    cpu = time.process_time() - cpu
    times.sort()
    return {
        "requests": len(times),
        "per_second": round(len(times) / took, 1),
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "p99_ms": round(times[int(len(times) * 0.99) - 1] * 1000, 1),
        "errors": errors,
        "client_cpu_ms": round(cpu / max(1, len(times)) * 1000, 3),
    }


def start(command: list[str], **kw: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=30)


def bare(*, workers: int, run: dict[str, Any]) -> dict[str, Any]:
    """The floor: the same JSON shape from a FastAPI app doing nothing."""
    home = Path(tempfile.mkdtemp(prefix="psi-load-bare-"))
    (home / "bare.py").write_text(BARE, encoding="utf-8")
    port = free_port()
    server = start([sys.executable, "-m", "uvicorn", "bare:app", "--port", str(port),
                    "--log-level", "warning", "--workers", str(workers)], cwd=home)  # fmt: skip
    try:
        wait_up(f"http://127.0.0.1:{port}/docs", {})
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        return measured("POST", url, headers={}, json=BODY, **run)
    finally:
        stop(server)


def psi_targets(*, database_url: str | None, workers: int, run: dict[str, Any]) -> dict[str, Any]:
    """Memory search, then chat, on a fresh PSI_HOME (and the given database)."""
    home = Path(tempfile.mkdtemp(prefix="psi-load-"))
    (home / "config.toml").write_text(CONFIG, encoding="utf-8")
    env = {**os.environ, "PSI_HOME": str(home), "PSI_EMBEDDER__BACKEND": "hashing"}
    if database_url is not None:
        env["PSI_DATABASE_URL"] = database_url
    psi = str(Path(sys.executable).parent / "psi")
    # A few hundred messages to search.
    lines = "".join(f"Note {i}: the blue bike needs new brakes, shop {i % 7}\n" for i in range(300))
    subprocess.run([psi, "chat"], input=lines, env=env, text=True, check=True,
                   capture_output=True)  # fmt: skip
    port = free_port()
    # Without --workers for one, as a psi from before the option takes it too.
    many = ["--workers", str(workers)] if workers > 1 else []
    server = start([psi, "serve", "--port", str(port), *many], env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            if (home / "api-token").exists():
                break
            time.sleep(0.1)
        token = (home / "api-token").read_text().strip()
        auth = {"Authorization": f"Bearer {token}"}
        wait_up(f"{base}/v1/models", auth)
        search = {"q": "bike brakes"}
        return {
            "memories_search": measured(
                "GET", f"{base}/api/memories/search", headers=auth, params=search, **run
            ),
            "chat": measured("POST", f"{base}/v1/chat/completions", headers=auth, json=BODY, **run),
        }
    finally:
        stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.clients < 1 or args.workers < 1 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--clients and --workers take 1 or more, --seconds more than 0, "
                     "--warmup 0 or more")  # fmt: skip
    run = {"clients": args.clients, "seconds": args.seconds, "warmup": args.warmup}
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results: dict[str, Any] = {"bare": bare(workers=args.workers, run=run)}
    floor = results["bare"]["p50_ms"]
    for database in databases:
        server = None
        url = None
        if database == "postgresql":
            from psi.benchmarks.postgres import PostgresServer

            server = PostgresServer.find_or_start(durable=True)
            if server is None:
                raise SystemExit(
                    "PostgreSQL with pgvector is not installed: scripts/install-postgres"
                )
            url = server.fresh_database()
        try:
            found = psi_targets(database_url=url, workers=args.workers, run=run)
        finally:
            if server is not None:
                server.stop()
        for target in found.values():
            target["overhead_p50_ratio"] = round(target["p50_ms"] / floor, 1)
        results[database] = found
    report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **run,
              "workers": args.workers, "results": results}  # fmt: skip
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
