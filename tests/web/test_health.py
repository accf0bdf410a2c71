"""`GET /healthz` through the real app: database, migrations, the scheduler leader's heartbeat."""

from __future__ import annotations

import re
import warnings
from datetime import timedelta

import pytest
from sqlalchemy import update

from curator import store
from curator.store.schema import locks, now
from curator.web import create_app
from scheduler.leader import RowLock

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


def get(settings, engine, path: str = "/healthz", *, as_ops: bool = True):
    """GET `path`, signed in as ops (who see every check's details) unless the database cannot sign anyone in."""
    from curator import users
    from tests.web.test_ops import PASSWORD

    with TestClient(create_app(settings, engine), base_url="https://news.example.org") as client:
        if as_ops:
            with engine.begin() as conn:
                if not any(u["email"] == "ops@example.org" for u in users.list_users(conn)):
                    users.add_user(conn, "ops@example.org", "ops", PASSWORD)
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
            client.post("/login", data={"email": "ops@example.org", "password": PASSWORD, "csrf_token": token})
        return client.get(path)


def beat(engine, holder: str = "sched-host:4242") -> RowLock:
    lock = RowLock(engine, holder, timeout=60)
    assert lock.try_acquire()
    return lock


def test_healthy_with_a_beating_scheduler(settings, engine):
    beat(engine)
    response = get(settings, engine)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["migrations"]["ok"] and body["checks"]["migrations"]["current"] == store.head_revision()
    assert body["checks"]["scheduler"]["leader"] == "sched-host:4242"
    assert body["checks"]["scheduler"]["age_seconds"] < settings.scheduler_lock_timeout
    assert response.headers["cache-control"] == "no-store"


def test_no_scheduler_is_unhealthy_except_for_the_web_scope(settings, engine):
    response = get(settings, engine)
    assert response.status_code == 503
    assert response.json()["checks"]["scheduler"] == {
        "ok": False, "error": "no scheduler holds the lock: start `python -m scheduler`"
    }
    web = get(settings, engine, "/healthz?scope=web")
    assert web.status_code == 200
    assert set(web.json()["checks"]) == {"database", "migrations"}


def test_a_silent_scheduler_is_unhealthy(settings, engine):
    beat(engine)
    with engine.begin() as conn:
        conn.execute(update(locks).values(heartbeat_at=now() - timedelta(minutes=5)))
    response = get(settings, engine)
    assert response.status_code == 503
    check = response.json()["checks"]["scheduler"]
    assert not check["ok"] and "s old (limit 60 s)" in check["error"]


def test_a_database_behind_its_migrations_is_unhealthy(settings, tmp_path, caplog):
    empty = store.make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        response = get(settings, empty, as_ops=False)
    finally:
        empty.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy"}  # nobody can sign in to an empty database
    assert "migrations: the schema is not current: run `curator db upgrade`" in caplog.text  # ops read the log


def test_an_unreachable_database_is_unhealthy(settings, caplog):
    nowhere = store.make_engine("postgresql+psycopg://postgres@127.0.0.1:1/curator")
    try:
        response = get(settings, nowhere, "/healthz?scope=web", as_ops=False)
    finally:
        nowhere.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy"}
    assert "database: cannot reach the database" in caplog.text


@pytest.mark.parametrize("scope", ["everything", ""])
def test_an_unknown_scope_is_refused(settings, engine, scope):
    assert get(settings, engine, f"/healthz?scope={scope}").status_code == 400
