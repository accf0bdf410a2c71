"""A subscriber's own changes through the real app: the choice of topics, the resend, the welcome,
a new address, why they left and the undo; and the public archive's feed, navigation and tags."""

from __future__ import annotations

import re

import feedparser

from curator import render, subscribers
from curator.store.schema import audit_log
from tests.web.test_public import _link, _outbox, _path, _sent_issue, _subscriber, client, conf, same  # noqa: F401


def _subscribe(client, address: str, **data) -> str:  # noqa: F811
    page = client.post("/subscribe", data={"email": address, **data})
    assert page.status_code == 200
    return page.text


def test_the_check_inbox_page_names_the_address_and_resends_at_most_once_in_a_while(client, conf, engine):  # noqa: F811
    page = _subscribe(client, "Nia@Example.com", topics=["career", "leadership"], scope="only")
    assert '<strong class="address">Nia@Example.com</strong>' in page and 'action="/subscribe/resend"' in page
    sub = _subscriber(engine, "nia@example.com")
    assert sub["only_my_topics"] is True and sub["topics"] == ["career", "leadership"]
    first = client.post("/subscribe/resend", data={"email": "nia@example.com"})
    second = client.post("/subscribe/resend", data={"email": "nia@example.com"})
    unknown = client.post("/subscribe/resend", data={"email": "nobody@example.com"})
    assert first.status_code == second.status_code == unknown.status_code == 200
    first_page, second_page, unknown_page = (same(r) for r in (first, second, unknown))  # the CSP nonce differs
    assert first_page == second_page == unknown_page.replace("nobody@example.com", "nia@example.com")
    mails = [m for m in _outbox(conf) if m["To"] == "nia@example.com"]
    assert len(mails) == 2  # the first confirmation and one resend: the second one waits
    with engine.connect() as conn:
        assert conn.execute(audit_log.select().where(audit_log.c.action == "subscriber.confirm-resend")).all()


def test_confirming_sends_a_welcome_with_the_latest_issue(client, conf, engine):  # noqa: F811
    _sent_issue(engine, "2026-10")
    _sent_issue(engine, "2026-11")
    _subscribe(client, "wel@example.com", name="Wel")
    [confirmation] = _outbox(conf)
    link = _path(_link(confirmation, f"{conf.base_url}/confirm/"))
    assert "welcome email" in client.post(link).text
    client.post(link)  # twice: still one welcome
    welcome = [m for m in _outbox(conf) if "Welcome" in m["Subject"]]
    assert len(welcome) == 1 and welcome[0]["List-Unsubscribe"]
    text = welcome[0].get_body(("plain",)).get_content()
    assert f"{conf.base_url}/archive/2026-11" in text and f"{conf.base_url}/preferences/" in text


def test_preferences_switch_to_only_my_topics(client, conf, engine):  # noqa: F811
    with engine.begin() as conn:
        sub = subscribers.add(conn, "ann@example.com", topics=["learning"], known_topics=None)
    url = _path(render.preferences_url(conf, sub))
    assert 'name="scope" value="all" checked' in client.get(url).text
    client.post(url, data={"topics": ["career", "learning"], "scope": "only"})
    assert _subscriber(engine, "ann@example.com")["only_my_topics"] is True
    assert 'name="scope" value="only" checked' in client.get(url).text
    client.post(url, data={"topics": [], "scope": "only"})  # no topic ticked: every topic, whatever the choice
    assert _subscriber(engine, "ann@example.com")["only_my_topics"] is False


def test_a_new_address_takes_effect_once_it_is_confirmed(client, conf, engine):  # noqa: F811
    with engine.begin() as conn:
        sub = subscribers.add(conn, "old@example.com", topics=["career"], known_topics=None)
        subscribers.add(conn, "taken@example.com")
    url = _path(render.preferences_url(conf, sub))
    refused = client.post(url + "/address", data={"new_email": "taken@example.com"})
    assert refused.status_code == 400 and "cannot be used" in refused.text
    asked = client.post(url + "/address", data={"new_email": "New@Example.com"})
    assert asked.status_code == 200 and "we sent a link to new@example.com" in asked.text
    assert _subscriber(engine, "old@example.com")["new_email"] == "new@example.com"  # not yet moved
    [mail] = [m for m in _outbox(conf) if m["To"] == "new@example.com"]
    link = _path(_link(mail, f"{conf.base_url}/address/"))
    opened = client.get(link)
    assert "Yes, use this address" in opened.text and _subscriber(engine, "new@example.com") is None
    done = client.post(link)
    assert done.status_code == 200 and "now goes to new@example.com" in done.text
    moved = _subscriber(engine, "new@example.com")
    assert moved["id"] == sub["id"] and moved["new_email"] is None and _subscriber(engine, "old@example.com") is None
    assert client.post(link).status_code == 200  # twice is fine
    forged = client.get(link[:-3] + "xyz")
    assert forged.status_code == 400


def test_after_unsubscribing_a_reason_and_an_undo(client, conf, engine):  # noqa: F811
    with engine.begin() as conn:
        sub = subscribers.add(conn, "bye@example.com", topics=["career"], known_topics=None)
    url = _path(render.unsubscribe_url(conf, sub))
    page = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert page.status_code == 200 and "You are unsubscribed" in page.text
    assert f'action="{url}/undo"' in page.text and f'action="{url}/reason"' in page.text
    answered = client.post(url + "/reason", data={"reason": "too-many"})
    assert "Thank you for telling us" in answered.text
    assert _subscriber(engine, "bye@example.com")["unsubscribe_reason"] == "too-many"
    with engine.connect() as conn:
        assert subscribers.is_suppressed(conn, "bye@example.com")
    back = client.post(url + "/undo")
    assert back.status_code == 200 and "Welcome back" in back.text
    after = _subscriber(engine, "bye@example.com")
    assert after["status"] == "active" and after["topics"] == ["career"]
    assert after["confirmed_at"] == sub["confirmed_at"]
    with engine.connect() as conn:
        assert not subscribers.is_suppressed(conn, "bye@example.com")
        assert [a["email"] for a in subscribers.audience(conn)] == ["bye@example.com"]


def test_undo_is_refused_to_someone_who_bounced(client, conf, engine):  # noqa: F811
    with engine.begin() as conn:
        sub = subscribers.add(conn, "b@example.com")
        subscribers.unsubscribe(conn, sub["id"])
        subscribers.suppress(conn, "b@example.com", "bounced")
    answer = client.post(_path(render.unsubscribe_url(conf, sub)) + "/undo")
    assert answer.status_code == 409 and _subscriber(engine, "b@example.com")["status"] == "bounced"


def test_the_atom_feed_lists_sent_issues(client, conf, engine):  # noqa: F811
    _sent_issue(engine, "2026-10")
    _sent_issue(engine, "2026-11")
    _sent_issue(engine, "2026-12", status="approved")
    answer = client.get("/archive.atom")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(answer.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10" and parsed.feed.title.endswith("past issues")
    assert [e.link for e in parsed.entries] == [f"{conf.base_url}/archive/2026-11", f"{conf.base_url}/archive/2026-10"]
    assert parsed.entries[0].title == "Issue 2026-11" and parsed.entries[0].updated_parsed


def test_public_pages_have_navigation_a_subscribe_box_tags_and_no_personal_words(client, conf, engine):  # noqa: F811
    _sent_issue(engine, "2026-11")
    page = client.get("/archive/2026-11").text
    assert re.search(r'<link rel="alternate" type="application/atom\+xml"[^>]*href="[^"]*/archive.atom"', page)
    assert '<meta property="og:title" content="Issue 2026-11">' in page
    assert f'<meta property="og:url" content="{conf.base_url}/archive/2026-11">' in page
    assert 'aria-label="Site"' in page and f'action="{conf.base_url}/subscribe"' in page
    assert "Hi " not in page and "your topics" not in page.lower()
    for path in ("/", "/archive", "/subscribe"):
        text = client.get(path).text
        assert 'rel="alternate" type="application/atom+xml"' in text and 'property="og:title"' in text, path
        assert 'href="/archive"' in text and 'href="/subscribe"' in text, path
