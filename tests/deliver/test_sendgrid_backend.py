"""The SendGrid backend, through the official library, against a server that checks SendGrid's rules."""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from curator import deliver
from curator.deliver.backends import BatchMessage, Outcome, Recipient
from curator.deliver.sendgrid import SendGridBackend, batch_body, batch_json
from curator.render import Rendered
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


# -- the request text: batch_json writes exactly the document batch_body builds

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)  # any character JSON can carry
_emails = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.from_regex(r"[A-Za-z0-9._%+'\"\\-]{1,20}", fullmatch=True),
    st.sampled_from(["example.com", "bücher.example", "例え.jp", "xn--bcher-kva.example"]),
)
_recipients = st.lists(
    st.builds(
        lambda i, email, name, values: Recipient(i, email, name, values, f"https://n.example/u/{i}?a=\"<>&"),
        st.integers(0, 2**62), _emails, _text, st.dictionaries(_text, _text, max_size=4),
    ),
    max_size=5,
)


@given(recipients=_recipients, subject=_text, html=_text, text=_text, sandbox=st.booleans(), batch=_text)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # read only
def test_the_request_text_is_the_batch_body_exactly(sg_settings, recipients, subject, html, text, sandbox, batch):
    body = Rendered(subject=subject, html=html, text=text)
    message = BatchMessage(issue="2026-05", batch_key=batch, body=body, recipients=recipients)
    written = batch_json(sg_settings, message, sandbox=sandbox)
    assert written.isascii()  # as json.dumps writes it: every other character escaped
    assert json.loads(written) == batch_body(sg_settings, message, sandbox=sandbox)


def test_a_batch_is_posted_as_its_request_text(sg_settings, sg):
    backend = SendGridBackend(sg_settings)
    recipients = [Recipient(7, "ana@example.com", "Ana \"A\" Ödön", {"-name-": "Ana"}, "https://n.example/u/7")]
    message = BatchMessage("2026-05", "k1", Rendered("Hi -name-", "<p>-name-</p>", "-name-"), recipients)
    result = backend.send_batch(message)
    assert result.outcome is Outcome.ACCEPTED and result.status == 202
    (accepted,) = sg.accepted  # the server parsed it and checked it against SendGrid's schema and rules
    assert accepted.body == batch_body(sg_settings, message)


def test_the_library_debug_log_names_the_payload_size_not_the_recipients(sg_settings, sg, caplog):
    """python_http_client formats every request's payload into a debug message: ours prints its size."""
    backend = SendGridBackend(sg_settings)
    recipients = [Recipient(7, "ana@example.com", "Ana", {"-name-": "Ana"}, "https://n.example/u/7")]
    message = BatchMessage("2026-05", "k1", Rendered("Hi -name-", "<p>-name-</p>", "-name-"), recipients)
    with caplog.at_level("DEBUG", logger="python_http_client"):
        assert backend.send_batch(message).outcome is Outcome.ACCEPTED
    payload = [r.getMessage() for r in caplog.records if r.getMessage().startswith("PAYLOAD:")]
    assert payload and all("bytes of JSON" in line for line in payload)
    assert "ana@example.com" not in caplog.text
    (accepted,) = sg.accepted  # the bytes themselves went out whole
    assert accepted.body == batch_body(sg_settings, message)
