"""A throwaway PostgreSQL server with pgvector on 127.0.0.1, and fresh databases in it,
for the tests (tests/support/postgres.py) and the benchmarks (bench/load.py).

    server = PostgresServer.find_or_start()   # None when PostgreSQL is not installed
    url = server.fresh_database()                    # migrated to HEAD, empty, this test's own
    server.drop(url); server.stop()

`PSI_TEST_POSTGRES` names a running server to use instead (a URL whose role may create
databases); otherwise a cluster is started from Debian's PostgreSQL binaries
(`/usr/lib/postgresql/N/bin`) in a temporary folder, and stopped at the end. As root it
runs as the `postgres` user, since PostgreSQL refuses to run as root. Durability is off
for the tests; `durable=True` (for a benchmark) keeps fsync and full-page writes and
turns off only the wait for the WAL flush at commit (`synchronous_commit`): a crash of
the machine may lose the last commits, never the database's consistency, as with SQLite's
WAL at `synchronous=NORMAL` (psi's setting). Each database is a copy of one template
migrated once, so a test pays a CREATE DATABASE (about 0.1 s), not the migrations.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from psi.store.db import open_store

TEMPLATE = "psi_template"


def _binaries() -> Path | None:
    """The newest installed PostgreSQL whose share folder has pgvector."""
    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        version = bindir.parent.name
        control = Path("/usr/share/postgresql") / version / "extension" / "vector.control"
        if (bindir / "initdb").exists() and control.exists():
            return bindir
    return None


# Ports to try: psi opens no sockets outside psi.egress (tests/egress/test_boundary.py),
# so rather than asking the kernel for a free port, the server tries a few at random.
PORTS = range(20_000, 60_000)
TRIES = 8


@dataclass
class PostgresServer:
    admin_url: str
    data_dir: Path | None = None
    bindir: Path | None = None
    _names: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    def find_or_start(cls, *, durable: bool = False) -> PostgresServer | None:
        given = os.environ.get("PSI_TEST_POSTGRES")
        if given:
            server = cls(admin_url=given)
        else:
            bindir = _binaries()
            if bindir is None:
                return None
            # Its own folder under /tmp: pytest's are private to root, and the server
            # runs as `postgres`.
            workdir = Path(tempfile.mkdtemp(prefix="psi-postgres-"))
            server = cls._start(bindir, workdir, durable=durable)
        server._make_template()
        return server

    @classmethod
    def _start(cls, bindir: Path, workdir: Path, *, durable: bool) -> PostgresServer:
        data = workdir / "data"
        as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(workdir, "postgres")
            as_owner = ["runuser", "-u", "postgres", "--"]
        run = [*as_owner, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "psi"]
        subprocess.run([*run, "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
        for attempt in range(1, TRIES + 1):
            port = random.choice(PORTS)
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {workdir} -c synchronous_commit=off"
            )
            if not durable:
                options += " -c fsync=off -c full_page_writes=off"
            started = subprocess.run(
                [*as_owner, str(bindir / "pg_ctl"), "-D", str(data), "-o", options,
                 "-l", str(workdir / "server.log"), "-w", "start"],
                check=False, capture_output=True,
            )  # fmt: skip
            if started.returncode == 0:
                break
            if attempt == TRIES:  # not a busy port: what the server said is in its log
                started.check_returncode()
        return cls(
            admin_url=f"postgresql+psycopg://psi@127.0.0.1:{port}/postgres",
            data_dir=data,
            bindir=bindir,
        )

    def _execute(self, statement: str) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()

    def _url(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(False)

    def _make_template(self) -> None:
        self._execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        self._execute(f"CREATE DATABASE {TEMPLATE}")
        open_store(self._url(TEMPLATE)).dispose()

    def fresh_database(self) -> str:
        name = f"psi_test_{os.getpid()}_{next(self._names)}"
        self._execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self._url(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        self._execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        if self.data_dir is None or self.bindir is None:
            return
        as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*as_owner, str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast",
             "-w", "stop"],
            check=False, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)
