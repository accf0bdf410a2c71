"""The SendGrid backend, through the official library, against a server that checks SendGrid's rules."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from curator import deliver
from curator.store.schema import deliveries, send_batches
from tests.deliver.helpers import PERIOD, add_audience


def _send(settings, engine):
    deliver.start(engine, PERIOD, "test")
    return deliver.Worker(settings, engine).run()


def test_requests_are_valid_and_hold_at_most_1000_personalizations(sg_settings, engine, sg, issue):
    audience = add_audience(engine, 2300, variants=1)
    report = _send(sg_settings, engine)
    assert sg.stats()["status_counts"] == {"202": 3}  # every request passed the schema and SendGrid's rules
    assert [len(m.body["personalizations"]) for m in sg.accepted] == [1000, 1000, 300]
    assert sorted(sg.recipients()) == sorted(audience)
    assert sg.duplicates() == {}
    assert report.sent == 2300 and report.finished == [PERIOD]


def test_one_request_per_variant_group(sg_settings, engine, sg, issue):
    add_audience(engine, 90, variants=9)
    _send(sg_settings, engine)
    assert len(sg.accepted) == 9
    for message in sg.accepted:
        assert len(message.body["personalizations"]) == 10


def test_each_personalization_carries_its_own_unsubscribe_header_and_values(sg_settings, engine, sg, issue):
    add_audience(engine, 12, variants=2)
    _send(sg_settings, engine)
    with engine.connect() as conn:
        rows = {r.email: r for r in conn.execute(select(deliveries))}
        batches = {r.key: r for r in conn.execute(select(send_batches))}
    seen_urls = set()
    for message in sg.accepted:
        body = message.body
        batch = batches[body["custom_args"]["batch"]]
        assert body["custom_args"]["issue"] == PERIOD
        assert batch.state == "accepted" and batch.message_id == message.message_id
        assert "-unsubscribe_url-" in body["content"][1]["value"] and body["content"][0]["type"] == "text/plain"
        for p in body["personalizations"]:
            email = p["to"][0]["email"]
            url = p["substitutions"]["-unsubscribe_url-"]
            assert p["headers"] == {
                "List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"
            }
            assert url.startswith("https://news.example.org/unsubscribe/")
            assert p["custom_args"] == {"delivery": str(rows[email].id)}
            assert rows[email].batch_key == batch.key
            seen_urls.add(url)
    assert len(seen_urls) == 12  # one link per person, never shared


def test_sandbox_validates_and_sends_nothing(sg_settings, engine, sg, issue):
    add_audience(engine, 5, variants=1)
    settings = sg_settings.model_copy(update={"delivery": "sandbox"})
    report = _send(settings, engine)
    assert sg.stats()["status_counts"] == {"200": 1} and sg.accepted == []
    assert report.sent == 5


def test_transactional_email_is_one_message(sg_settings, sg):
    message_id = deliver.send_transactional(
        sg_settings, to="ada@example.com", subject="Confirm", html="<p>hi</p>", text="hi",
        headers={"List-Unsubscribe": "<https://news.example.org/u/x>"},
    )
    [accepted] = sg.accepted
    assert accepted.message_id == message_id and accepted.recipients == ["ada@example.com"]
    assert Counter(c["type"] for c in accepted.body["content"]) == {"text/plain": 1, "text/html": 1}
