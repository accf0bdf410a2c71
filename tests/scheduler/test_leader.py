"""One scheduler per database: two real `python -m scheduler` processes, the leader killed, the standby leads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from curator import store
from scheduler.leader import ADVISORY_CLASSID, ADVISORY_OBJID, read_leader

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 60.0  # seconds to wait for a state; a liveness limit, not a measured duration


class Daemon:
    """A `python -m scheduler` subprocess with its log in a file."""

    def __init__(self, url: str, log: Path, **settings: str):
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("CURATOR_")}
        env |= {"CURATOR_DATABASE_URL": url, "CURATOR_SCHEDULER_HEARTBEAT_SECONDS": "0.2",
                "CURATOR_SCHEDULER_LOCK_TIMEOUT": "2", "PYTHONUNBUFFERED": "1", **settings}
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scheduler"], cwd=REPO, env=env, stdout=self._out, stderr=subprocess.STDOUT
        )
        self.pid = self.proc.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"scheduler {self.pid} did not stop within {DEADLINE:.0f} s of SIGTERM:\n{self.text()}")
        finally:
            self.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=DEADLINE)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._out.close()


def wait_for(what: str, check, daemons=()):
    """Poll `check` until it returns something truthy; fail with the daemons' logs if it never does."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        for d in daemons:
            if d.proc.poll() is not None:
                pytest.fail(f"{what}: scheduler {d.pid} exited with {d.proc.returncode}:\n{d.text()}")
        time.sleep(0.05)
    logs = "\n\n".join(f"--- scheduler {d.pid}\n{d.text()}" for d in daemons)
    pytest.fail(f"gave up waiting: {what}\n{logs}")


def leader_row(engine) -> dict | None:
    with engine.connect() as conn:
        return read_leader(conn)


def held_by(engine, pid: int) -> dict | None:
    row = leader_row(engine)
    return row if row and row["holder"].endswith(f":{pid}") else None


def advisory_holder(engine) -> str | None:
    """The application_name of the session holding the scheduler's advisory lock, from pg_locks.

    Advisory locks belong to a database, and pg_locks shows the whole server's: other test runs'
    schedulers hold the same key in their own databases.
    """
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                 " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :c AND l.objid = :o"
                 " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
            {"c": ADVISORY_CLASSID, "o": ADVISORY_OBJID},
        ).scalar()


def takeover(url: str, tmp_path: Path) -> None:
    engine = store.make_engine(url)
    first = Daemon(url, tmp_path / "first.log")
    second = None
    try:
        wait_for("the first scheduler leads", lambda: held_by(engine, first.pid), [first])
        second = Daemon(url, tmp_path / "second.log", CURATOR_LOG_JSON="1")
        wait_for("the second scheduler stands by", lambda: "standby:" in second.text(), [first, second])
        assert held_by(engine, first.pid), "the standby must not take the lock from a live leader"
        if engine.dialect.name == "postgresql":
            assert advisory_holder(engine).endswith(f":{first.pid}")

        first.kill()  # SIGKILL: no clean release, the lock must be taken over
        row = wait_for("the standby takes over", lambda: held_by(engine, second.pid), [second])
        wait_for("the new leader's heartbeat advances",
                 lambda: (r := held_by(engine, second.pid)) and r["heartbeat_at"] > row["heartbeat_at"], [second])
        if engine.dialect.name == "postgresql":
            assert advisory_holder(engine).endswith(f":{second.pid}")
        assert "leading:" in second.text()
        assert "took the scheduler lock" in second.text()
        with engine.connect() as conn:
            stored = set(conn.execute(text("SELECT id FROM apscheduler_jobs")).scalars())
        assert stored == {"ingest", "draft", "send", "retention", "taste"}

        assert second.stop() == 0  # SIGTERM: clean shutdown, the lock released
        entries = [json.loads(line) for line in second.text().splitlines() if line.strip()]  # CURATOR_LOG_JSON
        assert {"time", "level", "logger", "message"} <= set(entries[0])
        assert any(e["logger"] == "scheduler" and e["message"].startswith("standby:") for e in entries)
        assert entries[-1]["message"] == "released the scheduler lock"
        assert leader_row(engine) is None
        if engine.dialect.name == "postgresql":
            assert advisory_holder(engine) is None
    finally:
        first.close()
        if second is not None:
            second.close()
        engine.dispose()


@pytest.mark.slow
def test_standby_takes_over_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'curator.db'}"
    engine = store.make_engine(url)
    store.upgrade(engine)
    engine.dispose()
    takeover(url, tmp_path)


@pytest.mark.slow
def test_standby_takes_over_on_postgresql(pg_url, tmp_path):
    takeover(pg_url, tmp_path)


def test_a_bad_schedule_is_refused_before_taking_the_lock(db_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURATOR_")}
    env |= {"CURATOR_DATABASE_URL": db_url, "CURATOR_SCHEDULE_SEND": "day_of_week=1 hour=9"}
    done = subprocess.run([sys.executable, "-m", "scheduler"], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert "CURATOR_SCHEDULE_SEND: day_of_week='1' uses a number; write weekday names" in done.stderr
    engine = store.make_engine(db_url)
    try:
        assert leader_row(engine) is None
    finally:
        engine.dispose()


def test_an_old_database_is_refused_with_the_fix(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURATOR_")}
    env["CURATOR_DATABASE_URL"] = f"sqlite:///{tmp_path / 'empty.db'}"
    done = subprocess.run([sys.executable, "-m", "scheduler"], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert "run `curator db upgrade` before `python -m scheduler`" in done.stderr
