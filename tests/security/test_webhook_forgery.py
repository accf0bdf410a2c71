"""Forged SendGrid events: unsigned, signed by someone else, replayed, oversized, or built to crash the parser."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from curator.store.schema import deliveries, events, now, send_batches, subscribers, suppressions
from curator.web.app import create_app
from tests.deliver.helpers import PERIOD, Signer, add_audience, dumps, make_issue

URL = "/webhooks/sendgrid"
DAY = 24 * 3600


def _client(settings, engine, **update):
    return TestClient(create_app(settings.model_copy(update=update), engine), base_url=settings.base_url)


def _uncertain_batch(engine, email: str) -> None:
    issue_id = make_issue(engine)
    with engine.begin() as conn:
        sub_id = conn.execute(select(subscribers.c.id).where(subscribers.c.email == email)).scalar_one()
        conn.execute(insert(send_batches), {"key": "b" * 32, "issue_id": issue_id, "state": "uncertain", "size": 1,
                                            "lease_until": now() - timedelta(minutes=1)})
        conn.execute(insert(deliveries), {"issue_id": issue_id, "subscriber_id": sub_id, "email": email,
                                          "state": "uncertain", "batch_key": "b" * 32, "attempts": 1})


def _forgeries(victim: str, stranger: str) -> bytes:
    return dumps([
        {"email": victim, "event": "spamreport", "timestamp": 1767225600, "sg_event_id": "f-1"},
        {"email": stranger, "event": "bounce", "type": "bounce", "timestamp": 1767225600, "sg_event_id": "f-2"},
        {"email": victim, "event": "processed", "batch": "b" * 32, "issue": PERIOD, "sg_event_id": "f-3"},
    ])


def _untouched(engine, victim: str) -> None:
    with engine.connect() as conn:
        assert conn.execute(select(subscribers.c.status).where(subscribers.c.email == victim)).scalar() == "active"
        assert conn.execute(select(suppressions)).first() is None
        assert conn.execute(select(events)).first() is None
        assert set(conn.execute(select(deliveries.c.state)).scalars()) == {"uncertain"}
        assert conn.execute(select(send_batches.c.state)).scalar() == "uncertain"


def test_without_a_key_an_unsigned_post_changes_nothing_and_says_how_to_configure(settings, engine):
    [victim] = add_audience(engine, 1)
    _uncertain_batch(engine, victim)
    with _client(settings, engine) as client:
        response = client.post(URL, content=_forgeries(victim, "never@example.com"))
    assert response.status_code == 503
    assert "CURATOR_SENDGRID_WEBHOOK_PUBLIC_KEY" in response.json()["error"]
    _untouched(engine, victim)


@pytest.mark.parametrize("attack", ["unsigned", "another key", "altered", "a day old", "from the future", "garbage"])
def test_with_a_key_forged_and_replayed_posts_are_refused(settings, engine, attack):
    signer = Signer()
    [victim] = add_audience(engine, 1)
    _uncertain_batch(engine, victim)
    payload = _forgeries(victim, "never@example.com")
    headers = {
        "unsigned": {},
        "another key": Signer().headers(payload),
        "altered": signer.headers(payload.replace(b"spamreport", b"delivered")),
        "a day old": signer.headers(payload, timestamp=str(int(time.time()) - DAY - 3600)),
        "from the future": signer.headers(payload, timestamp=str(int(time.time()) + 3600)),
        "garbage": {"X-Twilio-Email-Event-Webhook-Signature": "%%%", "X-Twilio-Email-Event-Webhook-Timestamp": "x"},
    }[attack]
    with _client(settings, engine, sendgrid_webhook_public_key=signer.public_key) as client:
        response = client.post(URL, content=payload, headers=headers)
    assert response.status_code == 401, response.text
    _untouched(engine, victim)


def test_a_retry_signed_hours_ago_within_sendgrids_window_is_taken(settings, engine):
    signer = Signer()
    [email] = add_audience(engine, 1)
    payload = dumps([{"email": email, "event": "delivered", "timestamp": 1767225600, "sg_event_id": "d-1"}])
    with _client(settings, engine, sendgrid_webhook_public_key=signer.public_key) as client:
        response = client.post(URL, content=payload, headers=signer.headers(payload, str(int(time.time()) - 20 * 3600)))
    assert response.status_code == 200 and response.json()["new"] == 1


def test_an_oversized_body_is_refused_before_it_is_read(settings, engine):
    signer = Signer()
    with _client(settings, engine, sendgrid_webhook_public_key=signer.public_key, webhook_max_bytes=2048) as client:
        declared = client.post(URL, content=b"[" + b" " * 4096 + b"]")
        streamed = client.post(URL, content=iter([b"[", b" " * 1500, b" " * 1500, b"]"]))  # chunked: no length
    assert declared.status_code == 413 and "CURATOR_WEBHOOK_MAX_BYTES" in declared.json()["error"]
    assert streamed.status_code == 413


@pytest.mark.parametrize(
    ("body", "words"),
    [(b"[" * 100_000 + b"]" * 100_000, "nested"), (b'[{"a": ' * 50 + b"1" + b"}]" * 50, "nested"),
     (b'{"event": "bounce"}', "list of event objects"), (b"[1, 2]", "list of event objects"),
     (b"[{]", "not JSON")],
)
def test_hostile_json_is_a_400_never_a_500(settings, engine, body, words):
    signer = Signer()
    with _client(settings, engine, sendgrid_webhook_public_key=signer.public_key) as client:
        response = client.post(URL, content=body, headers=signer.headers(body))
    assert response.status_code == 400 and words in response.json()["error"]


def test_serve_warns_loudly_when_unsigned_posts_are_allowed(settings):
    from tests.security.helpers import free_port, serve

    port = free_port()
    env = {"CURATOR_DATABASE_URL": settings.database_url, "CURATOR_SECRET_KEY": settings.secret_key,
           "CURATOR_BASE_URL": f"http://localhost:{port}", "CURATOR_WEBHOOK_ALLOW_UNSIGNED": "true"}
    out, err = serve(port, env)
    assert "Curator is serving" in out, err
    assert "CURATOR_WEBHOOK_ALLOW_UNSIGNED=true: /webhooks/sendgrid takes UNSIGNED posts" in err
