"""The outbox: one RFC 5322 file per recipient, readable by Python's email package."""

from __future__ import annotations

from email import message_from_bytes, policy

from sqlalchemy import select, update

from curator import deliver
from curator.deliver import ledger
from curator.store.schema import deliveries
from tests.deliver.helpers import PERIOD, add_audience


def _read(path):
    return message_from_bytes(path.read_bytes(), policy=policy.default)


def test_one_eml_per_recipient_with_every_header_and_both_parts(settings, engine, issue):
    emails = add_audience(engine, 7, variants=2)
    deliver.start(engine, PERIOD, "test")
    report = deliver.Worker(settings, engine).run()
    files = sorted(settings.outbox_dir.glob("*.eml"))
    assert report.sent == 7 and len(files) == 7
    with engine.connect() as conn:
        ids = {r.email: r.id for r in conn.execute(select(deliveries.c.email, deliveries.c.id))}
    for path in files:
        msg = _read(path)
        to = msg["To"].addresses[0].addr_spec
        assert path.name == f"{PERIOD}-{ids[to]:08d}.eml"  # named by the ledger row
        for name in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"):
            assert msg[name], name
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        url = str(msg["List-Unsubscribe"]).strip("<>")
        assert url.startswith("https://news.example.org/unsubscribe/")
        assert msg.get_content_type() == "multipart/alternative"
        plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
        assert url in plain.get_content() and url in html.get_content()
        assert "-unsubscribe_url-" not in plain.get_content() + html.get_content() + str(msg["Subject"])
    assert {_read(p)["To"].addresses[0].addr_spec for p in files} == set(emails)


def test_sending_a_batch_again_overwrites_its_files(settings, engine, issue):
    add_audience(engine, 4, variants=1)
    deliver.start(engine, PERIOD, "test")
    deliver.Worker(settings, engine).run()
    with engine.begin() as conn:  # as if the batch had been uncertain and resent
        conn.execute(update(deliveries).values(state="failed"))
    deliver.retry(engine, PERIOD, "test")
    deliver.Worker(settings, engine).run()
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 4
    with engine.connect() as conn:
        assert ledger.counts(conn, issue)["sent"] == 4


def test_send_test_writes_one_marked_copy_and_no_ledger_row(settings, engine, issue):
    deliver.send_test(settings, engine, PERIOD, "Editor@Example.com", ["leadership"])
    [path] = settings.outbox_dir.glob("*.eml")
    msg = _read(path)
    assert str(msg["Subject"]).startswith("[TEST] ") and msg["To"] == "editor@example.com"
    assert msg["List-Unsubscribe"]
    with engine.connect() as conn:
        assert conn.execute(select(deliveries)).first() is None


def test_transactional_email_to_the_outbox(settings):
    deliver.send_transactional(settings, to="ada@example.com", subject="Confirm", html="<p>Hi</p>", text="Hi")
    [path] = settings.outbox_dir.glob("transactional-*.eml")
    msg = _read(path)
    assert msg["Subject"] == "Confirm" and msg.get_body(("plain",)).get_content().strip() == "Hi"
