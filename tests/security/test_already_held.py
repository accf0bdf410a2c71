"""What already held when the service was attacked: one test each, asserting the refusal.

Forged and altered subscriber links, CSRF, role separation, XSS through feeds and blurbs,
XXE in feeds, and header injection into the emails.
"""

from __future__ import annotations

import email
import email.policy

from fastapi.testclient import TestClient
from sqlalchemy import select

from curator import editorial, subscribers, tokens
from curator.config import Settings
from curator.ingest.parse import parse_feed
from curator.store.schema import items
from tests.security.conftest import HOST, add_user, post, sign_in


def _subscriber(engine) -> dict:
    with engine.begin() as conn:
        return subscribers.add(conn, "ann@example.com", name="Ann")


def test_a_forged_or_altered_subscriber_link_is_refused(client, engine, conf):
    ann = _subscriber(engine)
    good = tokens.make_token(conf, "unsubscribe", ann["id"], ann["email"])
    forged = tokens.make_token(Settings(secret_key="not-this-servers-secret-key-0123456789"), "unsubscribe",
                               ann["id"], ann["email"])
    altered = good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb")
    other_purpose = tokens.make_token(conf, "preferences", ann["id"], ann["email"])
    for token in (forged, altered, other_purpose):
        response = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 400 and "This link is broken or has expired" in response.text
    with engine.connect() as conn:
        assert subscribers.find(conn, "ann@example.com")["status"] == "active"


def test_a_form_posted_from_another_site_is_refused(client, engine):
    add_user(engine, "ed@example.org")
    sign_in(client, "ed@example.org")
    response = client.post("/desk/draft", data={"period": "2026-12"}, headers={"Origin": "https://evil.example"},
                           follow_redirects=False)
    assert response.status_code == 403 and "security token" in response.text


def test_roles_are_kept_apart(app, engine):
    add_user(engine, "ed@example.org", "editor")
    add_user(engine, "op@example.org", "ops")
    with TestClient(app, base_url=HOST) as editor:
        token = sign_in(editor, "ed@example.org")
        assert editor.get("/ops", follow_redirects=False).status_code == 403
        assert post(editor, "/ops/issues/2026-12/send", {}, token).status_code == 403
    with TestClient(app, base_url=HOST) as ops:
        token = sign_in(ops, "op@example.org")
        assert ops.get("/desk", follow_redirects=False).status_code == 403
        assert post(ops, "/desk/draft", {"period": "2026-12"}, token).status_code == 403


def test_script_in_a_feed_or_a_blurb_is_shown_as_text(client, engine):
    add_user(engine, "ed@example.org")
    evil = '<script>alert("feed")</script>'
    with engine.begin() as conn:
        editorial.ensure_issue(conn, "2026-12", "test")
        pick = editorial.add_link(conn, "2026-12", url="https://a.example/x", title=f"Title {evil}",
                                  summary='<img src=x onerror=alert("summary")>', topic="learning", actor="test")
        editorial.set_blurb(conn, pick["id"], '<script>alert("blurb")</script>', "test")
    sign_in(client, "ed@example.org")
    page = client.get("/desk/2026-12").text
    email_html = client.get("/desk/2026-12/preview/email").text
    for html in (page, email_html):
        assert "<script>alert" not in html and "<img src=x" not in html  # as text at most, never as markup
    assert "&lt;script&gt;alert(&#34;feed&#34;)" in page or "&lt;script&gt;alert(&quot;feed&quot;)" in page


def test_an_external_entity_in_a_feed_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><title>T</title><item><title>&xxe;</title>'
        "<link>https://a.example/1</link><description>&xxe;</description></item></channel></rss>"
    ).encode()
    parsed = parse_feed(body, url="https://a.example/feed")
    dumped = repr(parsed)
    assert "TOP-SECRET-CONTENT" not in dumped


def test_a_line_break_in_a_name_cannot_add_an_email_header(client, conf, engine):
    response = client.post("/subscribe", data={"email": "ann@example.com", "name": "Ann\r\nBcc: eve@evil.example"})
    assert response.status_code == 200
    sent = list(conf.outbox_dir.glob("*.eml"))
    assert len(sent) == 1  # the confirmation went out, to Ann only
    for path in sent:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert message["Bcc"] is None and "eve@evil.example" not in str(message["To"])
        assert not any(name.lower() == "bcc" for name in message)
    with engine.connect() as conn:
        assert conn.execute(select(items.c.id)).first() is None  # nothing else was touched
