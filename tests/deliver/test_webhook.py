"""POST /webhooks/sendgrid: real ECDSA signatures, as SendGrid makes them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from curator.store.schema import events, subscribers
from curator.web.app import create_app
from tests.deliver.helpers import PERIOD, Signer, add_audience, dumps

URL = "/webhooks/sendgrid"


@pytest.fixture
def signer():
    return Signer()


@pytest.fixture
def client(settings, engine, signer):
    app = create_app(settings.model_copy(update={"sendgrid_webhook_public_key": signer.public_key}), engine)
    with TestClient(app, base_url=settings.base_url) as client:
        yield client


def _bounce(email, n=1):
    return [{"email": email, "event": "bounce", "type": "bounce", "reason": "550 no such user",
             "timestamp": 1767225600, "sg_event_id": f"b-{n}", "issue": PERIOD}]  # fmt: skip


def _events(engine):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(events)).scalar_one()


def test_a_signed_post_is_applied_once_and_a_bounce_suppresses(client, signer, engine, issue):
    [email] = add_audience(engine, 1)
    payload = dumps(_bounce(email))
    first = client.post(URL, content=payload, headers=signer.headers(payload))
    again = client.post(URL, content=payload, headers=signer.headers(payload))
    assert first.status_code == 200 and first.json() == {"received": 1, "new": 1, "duplicates": 0}
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    with engine.connect() as conn:
        assert conn.execute(select(subscribers.c.status)).scalar() == "bounced"
    assert _events(engine) == 1


def test_forged_altered_and_unsigned_posts_are_refused(client, signer, engine):
    payload = dumps(_bounce("ada@example.com"))
    forged = Signer().headers(payload)  # someone else's key
    altered = signer.headers(payload)
    unsigned = {"Content-Type": "application/json"}
    for headers, body in ((forged, payload), (altered, payload.replace(b"bounce", b"click")), (unsigned, payload)):
        response = client.post(URL, content=body, headers=headers)
        assert response.status_code == 401
        assert "CURATOR_SENDGRID_WEBHOOK_PUBLIC_KEY" in response.json()["error"]
    stale = signer.headers(payload, timestamp="1600000000")
    stale["X-Twilio-Email-Event-Webhook-Timestamp"] = "1600000001"  # signed for another time
    assert client.post(URL, content=payload, headers=stale).status_code == 401
    assert _events(engine) == 0


def test_a_signed_post_that_is_not_json_is_a_400(client, signer):
    payload = b'{"not": "a list"'
    response = client.post(URL, content=payload, headers=signer.headers(payload))
    assert response.status_code == 400 and "not JSON" in response.json()["error"]
    payload = b'{"event": "bounce"}'
    response = client.post(URL, content=payload, headers=signer.headers(payload))
    assert response.status_code == 400 and "list of event objects" in response.json()["error"]


def test_without_a_key_posts_are_refused_unless_unsigned_ones_are_allowed(settings, engine):
    with TestClient(create_app(settings, engine), base_url=settings.base_url) as client:
        refused = client.post(URL, content=dumps(_bounce("ada@example.com")))
    assert refused.status_code == 503 and "CURATOR_SENDGRID_WEBHOOK_PUBLIC_KEY" in refused.json()["error"]
    assert _events(engine) == 0
    allowed = settings.model_copy(update={"webhook_allow_unsigned": True})
    with TestClient(create_app(allowed, engine), base_url=settings.base_url) as client:
        response = client.post(URL, content=dumps(_bounce("ada@example.com")))
    assert response.status_code == 200
