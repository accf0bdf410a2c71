"""/healthz tells an anonymous visitor whether the service is up, and nothing about where it runs."""

from __future__ import annotations

from fastapi.testclient import TestClient

from curator.web.app import create_app
from scheduler.leader import RowLock
from tests.web.test_ops import sign_in


def _beating(engine) -> None:
    assert RowLock(engine, "sched-host.internal:4242", timeout=60).try_acquire()


def test_anonymous_visitors_get_the_status_only(settings, engine):
    _beating(engine)
    with TestClient(create_app(settings, engine), base_url="https://news.example.org") as client:
        for path in ("/healthz", "/healthz?scope=web"):
            response = client.get(path)
            assert response.status_code == 200
            assert response.json() == {"status": "ok"}
            assert "sched-host" not in response.text and "0002" not in response.text


def test_an_editor_gets_the_status_only_and_ops_get_the_details(settings, engine):
    _beating(engine)
    with TestClient(create_app(settings, engine), base_url="https://news.example.org") as editor:
        sign_in(editor, engine, "editor")
        assert editor.get("/healthz").json() == {"status": "ok"}
    with TestClient(create_app(settings, engine), base_url="https://news.example.org") as ops:
        sign_in(ops, engine, "ops")
        body = ops.get("/healthz").json()
    assert body["checks"]["scheduler"]["leader"] == "sched-host.internal:4242"
    assert body["checks"]["migrations"]["current"]


def test_a_forged_session_cookie_gets_no_details(settings, engine):
    _beating(engine)
    with TestClient(create_app(settings, engine), base_url="https://news.example.org") as client:
        client.cookies.set("curator_session", "eyJ1IjoxLCJwIjoieCJ9.forged.signature")
        assert client.get("/healthz").json() == {"status": "ok"}
