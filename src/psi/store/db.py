"""Opening the database: engine, SQLite pragmas, automatic migrations, the local user.

SQLite runs in WAL mode with a busy timeout, so a second psi process waits
for a lock instead of failing at once; when the wait runs out the error says
which file is locked and what to do. Any SQLAlchemy URL works; PostgreSQL gets
the same schema from the same migrations.
"""

from __future__ import annotations

import os
import threading
import zlib

try:
    import fcntl
except ImportError:  # Windows: psi's processes meet SQLite's busy handler instead
    fcntl = None  # type: ignore[assignment]
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event, select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from psi.clock import Clock, system_clock
from psi.errors import InputError, StoreError
from psi.store.migrations import HEAD
from psi.store.models import User


class Store:
    """One database: sessions that commit or roll back, and errors in psi's words."""

    def __init__(self, url: str, *, busy_timeout: float = 5.0, clock: Clock = system_clock) -> None:
        url = with_driver(url)
        self.url = url
        self.clock = clock
        self.is_sqlite = url.startswith("sqlite")
        connect_args: dict[str, Any] = {}
        if self.is_sqlite:
            connect_args = {"timeout": busy_timeout, "check_same_thread": False}
        try:
            self.engine: Engine = create_engine(url, connect_args=connect_args)
        except Exception as exc:  # a malformed URL or a missing driver
            hint = "Set database_url to a SQLAlchemy URL, e.g. sqlite:////path/psi.db."
            if url.startswith("postgresql"):
                hint = "PostgreSQL needs psycopg: pip install 'psi[postgres]'."
            raise StoreError(f"Cannot use database URL {url!r}: {exc}", hint=hint) from None
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            event.listen(self.engine, "handle_error", _postgres_refusals)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite takes one writer at a time (Store.writing): this process's writers, and
        # then psi's processes on the same file, queue on locks.
        self._writer = threading.RLock() if self.is_sqlite else None
        self._writing = 0
        self._file_lock = FileLock(sqlite_path(url))

    @property
    def where(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except OperationalError as exc:
            session.rollback()
            raise self._explain(exc) from None
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A unit of work in plain SQL statements, no ORM objects: committed when the block
        ends, rolled back if it raises. A third of a session's cost per statement, for
        the few reads and writes every reply makes."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except OperationalError as exc:
            raise self._explain(exc) from None

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """`transaction` for a unit of work that writes. SQLite lets one transaction write
        at a time; a writer that finds another waits in SQLite's busy handler, which
        sleeps 1, 2, 5, 10, ... ms between tries, so a busy server's replies queued for
        tens of milliseconds behind each other's sub-millisecond writes. Here writers
        wait their turn on locks instead, woken the moment the writer before them is
        done: a lock for the threads of this process, and for psi's processes on one
        database file (psi serve's workers) an flock on a file beside it. Other writers
        (another program, an ORM session) still meet the busy handler, as before."""
        if self._writer is None:
            with self.transaction() as connection:
                yield connection
            return
        with self._writer:
            outermost = self._writing == 0
            self._writing += 1
            try:
                if outermost:
                    self._file_lock.acquire()
                try:
                    with self.transaction() as connection:
                        yield connection
                finally:
                    if outermost:
                        self._file_lock.release()
            finally:
                self._writing -= 1

    def serialize(self, session: Session | Connection, name: str) -> None:
        """Make the rest of `session`'s transaction run one at a time with every other that
        serializes on `name`, in any process: on PostgreSQL a transaction-level advisory
        lock on the name; on SQLite the database's write lock, taken now rather than at
        the first write (WAL lets reads go on beside it)."""
        if self.is_sqlite:
            # A write that changes nothing still begins the write transaction.
            session.execute(text("UPDATE leases SET name = name WHERE 0"))
        else:
            key = zlib.crc32(name.encode("utf-8")) - 2**31
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def _explain(self, exc: DBAPIError) -> StoreError:
        detail = str(exc.orig)
        if "locked" in detail or "busy" in detail:
            return StoreError(
                f"The database {self.where} is locked by another process and stayed locked.",
                hint="Close other psi sessions using it (or wait for them), then try again.",
            )
        return StoreError(
            f"Database error on {self.where}: {detail}",
            hint="Run `psi doctor` to check the database.",
        )

    def current_revision(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        except OperationalError as exc:
            if "no such table" in str(exc.orig) or "does not exist" in str(exc.orig):
                return None
            raise self._explain(exc) from None
        except DBAPIError:
            return None
        return str(row[0]) if row else None

    def migrate(self) -> None:
        """Bring the schema to HEAD. Cheap when it is already there (no Alembic import)."""
        if self.current_revision() == HEAD:
            return
        from alembic import command

        try:
            with self.engine.begin() as conn:
                config = alembic_config()
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except DBAPIError as exc:
            if "extension" in str(exc.orig) and "vector" in str(exc.orig):
                raise StoreError(
                    f"{self.where} cannot use pgvector: {str(exc.orig).strip()}",
                    hint="Install pgvector on the server and run `CREATE EXTENSION vector;` "
                    "in this database as a superuser, once; then start psi again.",
                ) from None
            raise self._explain(exc) from None

    def ensure_user(self, name: str) -> int:
        """The id of user `name`, created on first use."""
        with self.session() as session:
            user_id = session.scalar(select(User.id).where(User.name == name))
            if user_id is None:
                user = User(name=name, created_at=self.clock())
                session.add(user)
                session.flush()
                user_id = user.id
            return user_id

    def dispose(self) -> None:
        self.engine.dispose()
        self._file_lock.close()


def inserted_id(result: Result[Any]) -> int:
    """The id of the row a single-row INSERT made: SQLite's last row id, PostgreSQL's
    RETURNING (which SQLAlchemy adds itself)."""
    key = cast(CursorResult[Any], result).inserted_primary_key
    if key is None:
        raise ValueError("not the result of a single-row INSERT")
    return int(key[0])


def with_driver(url: str) -> str:
    """A PostgreSQL URL as people write it (postgresql://, postgres://) gets psi's driver,
    psycopg 3; SQLAlchemy's default for it would be psycopg2, which psi does not install."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url.removeprefix(scheme)
    return url


def alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("psi.store").joinpath("migrations"))
    )
    return config


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted rows are overwritten on disk, so forgetting leaves no readable remains.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def create_database(server: str, name: str) -> str:
    """A new, empty database `name` on the PostgreSQL `server` (a URL whose role may create
    databases; one of that name is dropped first); its URL."""
    from sqlalchemy.engine import make_url

    if not name.replace("_", "").isalnum():
        raise InputError(f"{name!r} is no database name psi makes.", hint="Letters, digits, _.")
    _administer(
        server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )
    return make_url(with_driver(server)).set(database=name).render_as_string(hide_password=False)


def drop_database(server: str, url: str) -> None:
    """Drop the database `url` names, from the PostgreSQL `server`."""
    from sqlalchemy.engine import make_url

    _administer(server, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def _administer(server: str, *statements: str) -> None:
    engine = create_engine(with_driver(server), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    except OperationalError as exc:
        raise StoreError(f"PostgreSQL at {engine.url.render_as_string()}: {exc.orig}") from None
    finally:
        engine.dispose()


def _postgres_refusals(context: Any) -> None:
    """PostgreSQL refuses a NUL character in text (SQLite stores it): psi says so plainly,
    a user's mistake (400 over the API), not a database error."""
    if "cannot contain NUL" in str(context.original_exception):
        raise InputError(
            "Text with a NUL character (\\0) cannot be stored or searched.",
            hint="Remove the NUL character and try again.",
        )


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL (None for another database or one in memory)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///").split("?", 1)[0]
    return path if path not in ("", ":memory:") else None


class FileLock:
    """An exclusive flock on `<database>.writer`, for writers in several processes: the
    kernel wakes the next waiter when it is released, or when its holder dies. Nothing
    for a database in memory or where flock does not exist."""

    def __init__(self, database: str | None) -> None:
        self.path = f"{database}.writer" if database else None
        self._fd: int | None = None

    def acquire(self) -> None:
        if self.path is None or fcntl is None:
            return
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError:
            # A folder psi may not write in, a file system without flock: SQLite's own
            # busy handler still keeps writers apart, only slower.
            self.path = None
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def release(self) -> None:
        if self._fd is not None and fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()


def open_store(url: str, *, busy_timeout: float = 5.0, clock: Clock = system_clock) -> Store:
    """Open (creating if needed) and migrate the database at `url`."""
    if url.startswith("sqlite:///"):
        from pathlib import Path

        path = Path(url.removeprefix("sqlite:///"))
        if str(path) not in ("", ":memory:"):
            path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(url, busy_timeout=busy_timeout, clock=clock)
    store.migrate()
    return store
