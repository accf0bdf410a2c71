"""An old confirm link must not confirm a later subscription attempt (say, after an unsubscribe)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from curator import subscribers
from curator.store.schema import rate_counters
from curator.web.app import create_app
from tests.web.test_public import FEEDS_YAML

BASE = "https://news.example.org"


@pytest.fixture
def conf(settings, tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS_YAML)
    return settings.model_copy(update={"feeds": path})


def _subscribe(client, engine, conf) -> str:
    """Post the form and return the confirm link of the email it sent."""
    with engine.begin() as conn:  # the per-address window has passed
        conn.execute(delete(rate_counters))
    before = set(conf.outbox_dir.glob("*.eml")) if conf.outbox_dir.exists() else set()
    assert client.post("/subscribe", data={"email": "ada@example.com"}).status_code == 200
    [new] = set(conf.outbox_dir.glob("*.eml")) - before
    return next(line.strip() for line in new.read_text().splitlines() if "/confirm/" in line).removeprefix(BASE)


def _status(engine) -> str:
    with engine.connect() as conn:
        return subscribers.find(conn, "ada@example.com")["status"]


def test_a_confirm_link_from_before_an_unsubscribe_does_not_confirm_the_next_attempt(conf, engine):
    with TestClient(create_app(conf, engine), base_url=BASE) as client:
        old = _subscribe(client, engine, conf)
        assert client.post(old).status_code == 200 and _status(engine) == "active"
        with engine.begin() as conn:
            subscribers.unsubscribe(conn, subscribers.find(conn, "ada@example.com")["id"])
        new = _subscribe(client, engine, conf)  # someone subscribes the address again
        replay = client.post(old)
        assert replay.status_code == 400 and "replaced by a newer one" in replay.text
        assert client.get(old).status_code == 400
        assert _status(engine) == "pending"
        assert client.post(new).status_code == 200 and _status(engine) == "active"


def test_only_the_latest_of_two_pending_attempts_confirms(conf, engine):
    with TestClient(create_app(conf, engine), base_url=BASE) as client:
        first = _subscribe(client, engine, conf)
        second = _subscribe(client, engine, conf)
        assert first != second
        assert client.post(first).status_code == 400 and _status(engine) == "pending"
        assert client.post(second).status_code == 200 and _status(engine) == "active"
