"""`forget` must leave the address nowhere: not in the database file, not in SQLite's WAL, not in the outbox."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from curator import deliver, store
from curator.web.app import create_app
from tests.deliver.helpers import PERIOD, Signer, dumps, make_issue
from tests.security.helpers import cli
from tests.web.test_public import FEEDS_YAML

ADDRESS = "zelda.forget-me@example.com"


@pytest.fixture
def conf(settings, tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS_YAML)
    return settings.model_copy(update={"feeds": path})


def _leave_traces(conf, engine) -> None:
    """Subscribe and confirm on the web, get an issue through the outbox, and a SendGrid event."""
    signer = Signer()
    app = create_app(conf.model_copy(update={"sendgrid_webhook_public_key": signer.public_key}), engine)
    with TestClient(app, base_url="https://news.example.org") as client:
        assert client.post("/subscribe", data={"email": ADDRESS, "name": "Zelda"}).status_code == 200
        [mail] = conf.outbox_dir.glob("*.eml")
        link = next(line for line in mail.read_text().splitlines() if "/confirm/" in line)
        assert client.post(link.strip().removeprefix("https://news.example.org")).status_code == 200
        make_issue(engine)
        deliver.start(engine, PERIOD, "test", conf)
        assert deliver.Worker(conf, engine).run().sent == 1
        payload = dumps([{"email": ADDRESS, "event": "delivered", "timestamp": 1767225600, "sg_event_id": "e-1"}])
        assert client.post("/webhooks/sendgrid", content=payload, headers=signer.headers(payload)).status_code == 200


def _files_holding(paths, needle: bytes) -> list[str]:
    return [str(p) for p in paths if p.exists() and needle in p.read_bytes().lower()]


def test_forget_leaves_no_copy_of_the_address(conf, engine, db_url):
    _leave_traces(conf, engine)
    outbox = sorted(conf.outbox_dir.glob("*.eml"))
    assert len(_files_holding(outbox, ADDRESS.encode())) == 3  # the confirmation, the welcome email and the issue
    engine.dispose()  # as a separate process would find it: no connection of ours open
    result = cli("subscribers", "forget", ADDRESS.upper(), "--yes",
                 env={"CURATOR_DATABASE_URL": db_url, "CURATOR_SECRET_KEY": conf.secret_key,
                      "CURATOR_OUTBOX_DIR": str(conf.outbox_dir)})
    assert result.exit_code == 0, result.output
    assert "Deleted 3 outbox file(s)" in result.output
    assert _files_holding(conf.outbox_dir.glob("*"), ADDRESS.encode()) == []
    database = store.sqlite_path(db_url)
    if database is not None:  # on PostgreSQL the server's files are not ours to read
        files = [database, database.with_name(database.name + "-wal")]
        assert _files_holding(files, ADDRESS.encode()) == []
        assert _files_holding(files, b"zelda.forget-me") == []
