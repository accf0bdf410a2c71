"""One scheduler per database: the leader holds a lock and writes a heartbeat; the others wait.

PostgreSQL: a session advisory lock on a dedicated connection. The server frees it the
moment that connection ends, so a standby takes over as soon as the leader dies.
SQLite: the `locks` row, taken when absent or when its heartbeat is older than
CURATOR_SCHEDULER_LOCK_TIMEOUT. Both write the heartbeat into the `locks` row, which
/healthz, `curator schedule` and the ops console read.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from datetime import timedelta
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import NullPool

from curator.store.schema import locks, now

LOCK_NAME = "scheduler"
# "curator" in ASCII: the advisory lock's key, shown by pg_locks as classid 0x637572, objid 0x61746f72.
ADVISORY_KEY = 0x63757261746F72
ADVISORY_CLASSID, ADVISORY_OBJID = ADVISORY_KEY >> 32, ADVISORY_KEY & 0xFFFFFFFF

log = logging.getLogger("scheduler.leader")


def holder_id() -> str:
    """Who holds the lock: host and process id, enough for a person to find it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def read_leader(conn: Connection) -> dict | None:
    """The lock row: holder and last heartbeat, or None when no scheduler has led."""
    row = conn.execute(select(locks).where(locks.c.name == LOCK_NAME)).mappings().first()
    return dict(row) if row else None


def leader_status(conn: Connection, timeout: float) -> dict | None:
    """The leader, its last heartbeat, how old it is, and whether that is recent enough to count as alive."""
    row = read_leader(conn)
    if row is None:
        return None
    age = (now() - row["heartbeat_at"]).total_seconds()
    return row | {"age_seconds": round(age, 1), "alive": age <= timeout}


class Lock(Protocol):
    holder: str

    def try_acquire(self) -> bool: ...
    def beat(self) -> bool: ...
    def release(self) -> None: ...
    def close(self) -> None: ...


class RowLock:
    """The `locks` row as the lock: for SQLite, where every process shares one file."""

    def __init__(self, engine: Engine, holder: str, timeout: float):
        self.engine, self.holder, self.timeout = engine, holder, timeout

    def try_acquire(self) -> bool:
        stamp = now()
        try:
            with self.engine.begin() as conn:  # BEGIN IMMEDIATE on SQLite: one process decides at a time
                row = read_leader(conn)
                if row is None:
                    conn.execute(insert(locks), {"name": LOCK_NAME, "holder": self.holder, "heartbeat_at": stamp})
                    return True
                stale = row["heartbeat_at"] < stamp - timedelta(seconds=self.timeout)
                if row["holder"] != self.holder and not stale:
                    return False
                # Compare-and-set: only the row we judged stale is replaced.
                taken = conn.execute(
                    update(locks)
                    .where(locks.c.name == LOCK_NAME, locks.c.holder == row["holder"],
                           locks.c.heartbeat_at == row["heartbeat_at"])
                    .values(holder=self.holder, heartbeat_at=stamp)
                ).rowcount == 1
        except IntegrityError:
            return False  # another process inserted the row first
        if taken and row["holder"] != self.holder:
            log.warning("took the scheduler lock from %s (last heartbeat %s)", row["holder"], row["heartbeat_at"])
        return taken

    def beat(self) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(
                update(locks)
                .where(locks.c.name == LOCK_NAME, locks.c.holder == self.holder)
                .values(heartbeat_at=now())
            ).rowcount == 1

    def release(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(locks).where(locks.c.name == LOCK_NAME, locks.c.holder == self.holder))

    def close(self) -> None:
        pass


class AdvisoryLock:
    """A PostgreSQL session advisory lock held by a dedicated connection, plus the heartbeat row."""

    def __init__(self, engine: Engine, holder: str):
        self.engine, self.holder = engine, holder
        # Keepalives: a leader whose machine vanishes loses the lock within a minute or so.
        self._lock_engine = create_engine(
            engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
            connect_args={"application_name": f"curator-scheduler {holder}"[:63], "keepalives": 1,
                          "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3},
        )
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        try:
            if self._conn is None:
                self._conn = self._lock_engine.connect()
            got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        except DBAPIError as exc:
            log.warning("cannot try the scheduler lock: %s", _first_line(exc))
            self._drop()
            return False
        if got:
            previous = self._write_row()
            if previous and previous != self.holder:
                log.warning("took the scheduler lock; the previous leader was %s", previous)
        return bool(got)

    def beat(self) -> bool:
        if self._conn is None:
            return False
        try:
            held = self._conn.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                     " AND pid = pg_backend_pid() AND classid = :c AND objid = :o"),
                {"c": ADVISORY_CLASSID, "o": ADVISORY_OBJID},
            ).scalar()
        except DBAPIError as exc:
            log.error("lost the connection that holds the scheduler lock: %s", _first_line(exc))
            self._drop()
            return False
        if held:
            self._write_row()
        return bool(held)

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(DBAPIError):  # a lost connection took the lock with it
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
        with self.engine.begin() as conn:
            conn.execute(delete(locks).where(locks.c.name == LOCK_NAME, locks.c.holder == self.holder))

    def close(self) -> None:
        self._drop()
        self._lock_engine.dispose()

    def _write_row(self) -> str | None:
        """Record the heartbeat; returns the previous holder. Only the lock's owner writes here."""
        try:
            with self.engine.begin() as conn:
                row = read_leader(conn)
                values = {"holder": self.holder, "heartbeat_at": now()}
                if row is None:
                    conn.execute(insert(locks), {"name": LOCK_NAME, **values})
                else:
                    conn.execute(update(locks).where(locks.c.name == LOCK_NAME).values(**values))
                return row["holder"] if row else None
        except DBAPIError as exc:
            # The advisory lock is the truth; a missed heartbeat only shows in /healthz.
            log.warning("cannot write the scheduler heartbeat: %s", _first_line(exc))
            return None

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(DBAPIError):
                self._conn.close()
            self._conn = None


def make_lock(engine: Engine, timeout: float, holder: str | None = None) -> Lock:
    """The right lock for the database behind `engine`."""
    holder = holder or holder_id()
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, holder)
    return RowLock(engine, holder, timeout)


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]
