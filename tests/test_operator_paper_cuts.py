"""What a new operator ran into: a busy port, a --port that BASE_URL's links miss, a draft with nothing new."""

from __future__ import annotations

import socket

from sqlalchemy import update

from curator import editorial
from curator.store.schema import issues, now
from tests.security.helpers import cli, free_port, serve


def _env(settings, port: int) -> dict[str, str]:
    return {"CURATOR_DATABASE_URL": settings.database_url, "CURATOR_SECRET_KEY": settings.secret_key,
            "CURATOR_BASE_URL": f"http://localhost:{port}"}


def test_serve_on_a_busy_port_says_so_and_names_port(settings):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out, err = serve(port, _env(settings, port))
    assert f"port {port} on 127.0.0.1 is already in use" in err and "--port" in err
    assert "Traceback" not in err and "Errno" not in err


def test_serve_warns_when_its_port_is_not_base_urls(settings):
    port = free_port()
    out, err = serve(port, _env(settings, 8000))
    assert "Curator is serving" in out, err
    assert f"CURATOR_BASE_URL is http://localhost:8000 but this server listens on port {port}" in err
    assert "--port 8000" in err


def test_draft_after_the_last_issue_with_nothing_new_says_to_ingest(settings, engine):
    with engine.begin() as conn:
        editorial.ensure_issue(conn, "2026-11", "test")
        conn.execute(update(issues).values(status="sent", sent_at=now()))
    env = {"CURATOR_DATABASE_URL": settings.database_url, "CURATOR_FEEDS": str(settings.feeds)}
    result = cli("draft", "2026-12", env=env)
    assert result.exit_code == 0, result.output
    assert "no new items since" in result.output and "Run `curator ingest`" in result.output
    assert "curator picks" not in result.output
