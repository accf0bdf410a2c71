"""The database: engines, migrations, and the check that it is current."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from curator.config import mask_url
from curator.errors import DatabaseError
from curator.store import schema

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (10 MB of modules) is imported by the functions that migrate or compare revisions,
# not here: ingest's parse workers import this package for its engines, and never migrate.

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

__all__ = [
    "schema", "make_engine", "upgrade", "current_revision", "head_revision", "open_db", "secure_delete", "checkpoint",
]


def normalize_url(url: str) -> str:
    """postgresql:// means psycopg 3 here; everything else is taken as written."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    """An engine; SQLite gets WAL, foreign keys and a generous busy timeout."""
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_pragmas)
        # Take the write lock at BEGIN: no deadlocks between two writers upgrading a read. A
        # connection marked read_only (execution option) reads beside the writer, as WAL allows.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _parse(url: str):
    """The URL, checked: a form SQLAlchemy reads, and a database Curator has a driver for."""
    try:
        parsed = make_url(normalize_url(url))
        parsed.get_dialect()
    except ArgumentError:
        raise DatabaseError(f"CURATOR_DATABASE_URL is not a database URL: {mask_url(url)!r}") from None
    except (NoSuchModuleError, ImportError):
        raise DatabaseError(
            f"CURATOR_DATABASE_URL names a database Curator does not support: {mask_url(url)!r}; "
            "use sqlite:///PATH or postgresql+psycopg://USER@HOST/NAME"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseError(
            f"CURATOR_DATABASE_URL names a {parsed.get_backend_name()} database; Curator runs on SQLite "
            "(sqlite:///PATH) or PostgreSQL (postgresql+psycopg://USER@HOST/NAME)"
        )
    return parsed


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for other databases and in-memory ones."""
    parsed = _parse(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


BUSY_TIMEOUT_S = 30.0  # how long a writer waits for SQLite's write lock before "database is locked"
LOCK_POLL_S = (0.0005, 0.002)  # between two tries at the write lock, at random


def _sqlite_begin(conn) -> None:
    """BEGIN IMMEDIATE, trying again every millisecond or so until the lock is free.

    SQLite's own busy handler sleeps longer and longer between tries (up to 100 ms), so a
    writer that commits and begins again at once, such as a delivery worker, can keep another
    one (a webhook post, an editor's click) waiting for seconds: it only ever looks in the
    wrong moments. Tries this close together find the short gaps between such transactions.
    A connection marked read_only (execution option) reads beside the writer, as WAL allows.
    """
    if conn.get_execution_options().get("read_only"):
        conn.exec_driver_sql("BEGIN")
        return
    raw = conn.connection.dbapi_connection
    raw.execute("PRAGMA busy_timeout = 0")  # each try answers at once: the loop does the waiting
    try:
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _locked(exc) or time.monotonic() > deadline:
                    break
            time.sleep(random.uniform(*LOCK_POLL_S))
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # once more, through SQLAlchemy: its error, wrapped as ever
    finally:
        raw.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")


def _locked(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" listener issue BEGIN itself
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    cur.close()


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise DatabaseError(f"cannot reach the database: {_first_line(exc)}") from None


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest migration; returns (before, after)."""
    path = sqlite_path(engine.url.render_as_string(hide_password=False))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    from alembic import command

    before = current_revision(engine)
    command.upgrade(_alembic_config(engine), "head")
    return before, head_revision()


def open_db(url: str, *, command_name: str = "this command") -> Engine:
    """An engine on a database at the newest migration, or a DatabaseError naming the fix."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise DatabaseError(
            f"there is no database at {path}: run `curator db upgrade` to create it, or point "
            "CURATOR_DATABASE_URL (or --database-url) at the one you meant"
        )
    engine = make_engine(url)
    current, head = current_revision(engine), head_revision()
    if current != head:
        engine.dispose()
        state = "empty" if current is None else f"at revision {current}"
        raise DatabaseError(
            f"the database is {state}, Curator needs {head}: run `curator db upgrade` "
            f"before `curator {command_name}`."
        )
    return engine


@contextmanager
def secure_delete(conn: Connection) -> Iterator[None]:
    """Within it, SQLite overwrites what is deleted or shrunk with zeros instead of leaving it in free space."""
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.exec_driver_sql("PRAGMA secure_delete=ON")
    try:
        yield
    finally:
        conn.exec_driver_sql("PRAGMA secure_delete=OFF")


def checkpoint(engine: Engine) -> bool:
    """Copy SQLite's write-ahead log into the database file and empty it; False when a reader held it back.

    Until then, rows deleted from the database still sit in the -wal file. PostgreSQL: nothing to do.
    """
    if engine.dialect.name != "sqlite":
        return True
    raw = engine.raw_connection()  # outside a transaction: a checkpoint cannot run inside one
    try:
        cursor = raw.cursor()
        busy, _log, _done = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.close()
    finally:
        raw.close()
    return busy == 0


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]
