"""Every test gets its own PSI_HOME and no way to reach a real model by accident, and
no test may open a connection off this machine: a socket guard fails any test that
tries (psi's one door out is psi.egress; tests stand in for the world on 127.0.0.1).

Modules marked `pytest.mark.databases` run each test twice: on SQLite and on a fresh
PostgreSQL + pgvector database (tests/support/postgres.py), through PSI_DATABASE_URL.
Without PostgreSQL installed those runs are skipped, saying how to install it, unless
PSI_TEST_REQUIRE_POSTGRES is set (as .ci/run sets it): then they fail."""

from __future__ import annotations

import ipaddress
import os
import socket
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from psi.config import load_settings
from psi.llm import registry
from psi.store.conversations import Conversations
from psi.store.db import Store, open_store
from support.postgres import PostgresServer


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "databases: run each test on SQLite and on PostgreSQL + pgvector"
    )
    config.addinivalue_line("markers", "sqlite_only: of SQLite's own behaviour, in such a module")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marked = metafunc.definition.get_closest_marker
    if marked("databases") is not None and marked("sqlite_only") is None:
        metafunc.parametrize("database", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | None]:
    server = PostgresServer.find_or_start()
    yield server
    if server is not None:
        server.stop()


@pytest.fixture(autouse=True)
def psi_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "psi-home"
    monkeypatch.setenv("PSI_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("PSI_") and name != "PSI_HOME" and not name.startswith("PSI_TEST_"):
            monkeypatch.delenv(name)
    # The hashing embedder keeps tests fast; the tests of MiniLM itself build it directly.
    monkeypatch.setenv("PSI_EMBEDDER__BACKEND", "hashing")
    yield home
    registry.clear_cache()


@pytest.fixture(autouse=True)
def database(
    request: pytest.FixtureRequest, psi_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """ "sqlite" (psi's default file in PSI_HOME) or "postgresql" (a fresh database)."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        yield kind
        return
    url = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("PSI_DATABASE_URL", url)
    yield kind
    registry.clear_cache()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer | None) -> Iterator[str]:
    """A fresh PostgreSQL + pgvector database, migrated and empty, dropped after the test."""
    if postgres_server is None:
        message = (
            "PostgreSQL with pgvector is not installed: run scripts/install-postgres "
            "(as root), or set PSI_TEST_POSTGRES to a server's URL"
        )
        if os.environ.get("PSI_TEST_REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    url = postgres_server.fresh_database()
    yield url
    registry.clear_cache()
    postgres_server.drop(url)


@pytest.fixture
def write_config(psi_home: Path) -> Callable[[str], Path]:
    """Write $PSI_HOME/config.toml."""

    def write(text: str) -> Path:
        psi_home.mkdir(parents=True, exist_ok=True)
        path = psi_home / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    opened = open_store(load_settings().db_url)
    yield opened
    opened.dispose()


@pytest.fixture
def conversations(store: Store) -> Conversations:
    return Conversations(store, user_id=store.ensure_user("local"))


class LeftTheMachine(AssertionError):
    """A test opened (or resolved a name for) a connection to a non-loopback address."""


def _loopback(address: object) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like stay here
    host = str(address[0])
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a name: resolving it would already leave


def _caller() -> str:
    """Where the attempt came from: the innermost frames outside this file."""
    frames = [f for f in traceback.extract_stack()[:-2] if not f.filename.endswith("conftest.py")]
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames[-14:]))


@pytest.fixture(autouse=True)
def socket_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse every connect() and name lookup that is not for this machine, and fail the
    test if one was attempted (even if the code under test caught the error)."""
    attempts: list[str] = []
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
    getaddrinfo = socket.getaddrinfo

    def guarded(original: Callable[..., object]) -> Callable[..., object]:
        def check(self: socket.socket, address: object) -> object:
            if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
                attempts.append(repr(address))
                raise LeftTheMachine(f"a test tried to connect to {address!r}")
            return original(self, address)

        return check

    def lookup(host: object, *args: object, **kwargs: object) -> object:
        if host is not None and not _loopback((host,)):
            attempts.append(f"lookup {host!r} from {_caller()}")
            raise LeftTheMachine(f"a test tried to resolve {host!r}")
        return getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded(connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(connect_ex))
    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    yield attempts
    assert not attempts, f"the test tried to leave the machine: {attempts}"
