"""Shared fixtures: a migrated database per test, on SQLite or on PostgreSQL.

The suite runs on SQLite by default. With CURATOR_DATABASE_URL naming a PostgreSQL
database, every `db_url`/`engine` test runs there instead, in a database of its own
created for the session. `pg_url` is for tests that need PostgreSQL whatever the
default (several workers, advisory locks); they skip when it is unreachable, except
on CI, where they fail.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import Pool

from curator import store
from curator.store import schema

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_HELP = (
    "PostgreSQL is not reachable at {url}: start it, or point CURATOR_TEST_POSTGRES_URL at a "
    "server where this user may create databases, to run the PostgreSQL tests."
)


def _requested_url() -> str | None:
    url = os.environ.get("CURATOR_DATABASE_URL", "")
    return store.normalize_url(url) if url.startswith("postgres") else None


def _admin_url() -> str:
    return store.normalize_url(
        _requested_url() or os.environ.get("CURATOR_TEST_POSTGRES_URL", PG_DEFAULT)
    )


def _create_pg_database(admin_url: str) -> str | None:
    """A fresh database beside the admin one; None when PostgreSQL is unreachable."""
    from sqlalchemy.engine import make_url

    name = f"curator_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception:
        return None
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(admin_url: str, url: str) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _pg_session_url():
    admin = _admin_url()
    url = _create_pg_database(admin)
    if url is None:
        yield None
        return
    engine = store.make_engine(url)
    store.upgrade(engine)
    engine.dispose()
    yield url
    _drop_pg_database(admin, url)


def _truncate_all(url: str) -> None:
    engine = store.make_engine(url)
    names = ", ".join(t.name for t in schema.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        conn.execute(text("DROP TABLE IF EXISTS apscheduler_jobs"))
    engine.dispose()


@pytest.fixture
def pg_url(_pg_session_url) -> str:
    """A migrated, empty PostgreSQL database; skips (fails on CI) when unreachable."""
    if _pg_session_url is None:
        message = PG_HELP.format(url=_admin_url())
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    _truncate_all(_pg_session_url)
    return _pg_session_url


@pytest.fixture
def db_url(request, tmp_path) -> str:
    """A migrated, empty database: PostgreSQL when CURATOR_DATABASE_URL names it, else SQLite."""
    if _requested_url():
        return request.getfixturevalue("pg_url")
    url = f"sqlite:///{tmp_path / 'curator.db'}"
    engine = store.make_engine(url)
    store.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url):
    engine = store.make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(db_url, tmp_path):
    """Settings for a test: its own database and outbox, a fixed secret."""
    from curator.config import Settings

    return Settings(
        database_url=db_url,
        outbox_dir=tmp_path / "outbox",
        secret_key="test-secret-key-0123456789-abcdefghij",
        base_url="https://news.example.org",
        feeds=REPO / "feeds.yaml",
    )


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """Tests never read the developer's own CURATOR_* settings, except the database URL."""
    for name in list(os.environ):
        if (name.startswith("CURATOR_") and name != "CURATOR_DATABASE_URL") or name == "SENDGRID_API_KEY":
            monkeypatch.delenv(name, raising=False)
    if not _requested_url():
        monkeypatch.delenv("CURATOR_DATABASE_URL", raising=False)
    # The test feeds and pages are served on 127.0.0.x; tests/security turns this off where it matters.
    monkeypatch.setenv("CURATOR_FETCH_ALLOW_PRIVATE", "true")
    # Drafts would read their candidates' pages, made-up addresses: tests that want it serve pages locally.
    monkeypatch.setenv("CURATOR_FETCH_ARTICLES", "false")


@pytest.fixture(autouse=True)
def _dispose_cli_engine():
    """The CLI keeps one engine per process; close it after each test so no connection outlives it."""
    yield
    from curator.cli._app import state

    if state._engine is not None:
        state._engine.dispose()
        state._engine = None
    state._settings = None


# -- no database connection outlives its test
#
# A connection still checked out when its test ends is returned later, by a thread or the garbage
# collector, often into the pool of an engine disposed meanwhile; psycopg then warns "Connection
# ... was deleted while still open" in whichever later test the collector happens to run. So
# every checkout is noted with where it came from, and a test that leaves one out fails itself.

_checked_out: dict[int, tuple[str, str]] = {}  # id(pool record) -> (test, where it was checked out)
_current_test = ["(no test)"]


def _caller() -> str:
    """The innermost frames of this project: who asked for the connection."""
    frame, found = sys._getframe(2), []
    while frame is not None and len(found) < 4:
        name = frame.f_code.co_filename
        if name.startswith(_OURS):
            found.append(f"{Path(name).relative_to(REPO)}:{frame.f_lineno} {frame.f_code.co_name}")
        frame = frame.f_back
    return " < ".join(found) or "outside this project's code"


_OURS = tuple(str(REPO / part) for part in ("curator", "scheduler", "tests", "bench"))


@event.listens_for(Pool, "checkout")
def _noted_checkout(_dbapi_conn, record, _proxy) -> None:
    _checked_out[id(record)] = (_current_test[0], _caller())


@event.listens_for(Pool, "checkin")
def _noted_checkin(_dbapi_conn, record) -> None:
    _checked_out.pop(id(record), None)


@pytest.fixture(autouse=True)
def _no_connection_outlives_its_test(request):
    """Set up first, so it checks after every other fixture of the test has closed its engines."""
    _current_test[0] = request.node.nodeid
    yield
    left = [where for test, where in _checked_out.values() if test == request.node.nodeid]
    _checked_out.clear()
    if left:
        pytest.fail(
            f"{len(left)} database connection(s) still checked out after the test, taken at: "
            + "; ".join(left) + ". Close them (a `with` block) or stop the thread that holds them.",
            pytrace=False,
        )
