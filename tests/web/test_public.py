"""Public pages through the real app in process: double opt-in, links, one-click unsubscribe, archive."""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
import time
import warnings
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import insert, select, update

from curator import editorial, render, subscribers, tokens
from curator.store.schema import audit_log, feeds, issues, items, now, picks
from curator.web import create_app
from curator.web.public import mailer

with warnings.catch_warnings():
    # Starlette asks for the httpx2 fork; plain httpx works the same for an in-process client.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

FEEDS_YAML = """\
topics:
  - name: career
    title: Career
    description: Jobs, growth and moves
    keywords: [career]
  - name: learning
    title: Learning
    keywords: [learn]
  - name: leadership
    title: Leadership
    keywords: [lead]
feeds: []
"""


def same(response) -> str:
    """A page's text without its per-response CSP nonce, to compare two answers."""
    return re.sub(r'nonce="[^"]+"', 'nonce=""', response.text)


@pytest.fixture
def conf(settings, tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS_YAML)
    return settings.model_copy(update={"feeds": path})


@pytest.fixture
def client(conf, engine):
    with TestClient(create_app(conf, engine), base_url="https://news.example.org") as client:
        yield client


def _outbox(conf) -> list[email.message.EmailMessage]:
    files = sorted(conf.outbox_dir.glob("*.eml")) if conf.outbox_dir.exists() else []
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]


def _link(message, prefix: str) -> str:
    text = message.get_body(("plain",)).get_content()
    return next(line.strip() for line in text.splitlines() if line.strip().startswith(prefix))


def _path(url: str) -> str:
    return url.removeprefix("https://news.example.org")


def _subscriber(engine, address: str) -> dict | None:
    with engine.connect() as conn:
        return subscribers.find(conn, address)


def _form_action(page: str, button: str) -> str:
    """Where the form holding `button` posts, asserting it posts."""
    for form in re.finditer(r'<form method="(\w+)" action="([^"]+)">(.*?)</form>', page, re.S):
        if button in form.group(3):
            assert form.group(1) == "post"
            return form.group(2)
    raise AssertionError(f"no form with a {button!r} button")


def test_the_home_page_says_what_it_is_and_where_to_go(client):
    page = client.get("/")
    assert page.status_code == 200 and "A monthly email of the best growth resources" in page.text
    assert re.findall(r"<li><b>(\w+)</b>", page.text) == ["Career", "Learning", "Leadership"]  # feeds.yaml
    assert "Jobs, growth and moves" in page.text
    assert re.search(r'<a class="button primary" href="/subscribe">Subscribe</a>', page.text)
    assert 'href="/archive"' in page.text and re.search(r'href="/login">Staff sign in</a>', page.text)
    for path in ("/", "/subscribe", "/archive", "/unsubscribe"):  # the logo on every page leads home
        assert '<a class="brand" href="/">' in client.get(path).text, path
    assert "set-cookie" not in page.headers


def test_the_favicon_is_answered(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.text.startswith("<svg") and "max-age" in icon.headers["cache-control"]
    assert '<link rel="icon" href="/favicon.ico" type="image/svg+xml">' in client.get("/").text


def test_opening_the_confirm_link_subscribes_nobody_until_the_button(client, conf, engine):
    """Mail scanners open every link in a message: only the button's POST confirms."""
    with engine.begin() as conn:
        sub, _ = subscribers.subscribe(conn, "scan@example.com")
    path = _path(render.confirm_url(conf, sub))
    for _ in range(3):
        page = client.get(path)
        assert page.status_code == 200 and "Confirm my subscription" in page.text and "scan@example.com" in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert _subscriber(engine, "scan@example.com")["status"] == "pending"
    assert _form_action(page.text, "Confirm my subscription") == path
    assert client.post(path).status_code == 200
    assert _subscriber(engine, "scan@example.com")["status"] == "active"


def test_double_opt_in_end_to_end(client, conf, engine):
    form = client.get("/subscribe")
    assert form.status_code == 200 and 'name="email"' in form.text
    boxes = re.findall(r'name="topics" value="([a-z-]+)"', form.text)
    assert boxes == ["career", "learning", "leadership"]  # feeds.yaml order
    answer = client.post("/subscribe", data={"email": "New@Example.com", "name": "Nia", "topics": ["leadership"]})
    assert answer.status_code == 200 and "Check your inbox" in answer.text and not answer.cookies
    assert _subscriber(engine, "new@example.com")["status"] == "pending"

    [mail] = _outbox(conf)
    assert mail["To"] == "new@example.com" and "Confirm your subscription" in mail["Subject"]
    link = _link(mail, f"{conf.base_url}/confirm/")
    assert link in mail.get_body(("html",)).get_content()
    opened = client.get(_path(link))
    assert opened.status_code == 200 and _subscriber(engine, "new@example.com")["status"] == "pending"
    assert _form_action(opened.text, "Confirm my subscription") == _path(link)
    confirmed = client.post(_path(link))
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    sub = _subscriber(engine, "new@example.com")
    assert sub["status"] == "active" and sub["topics"] == ["leadership"] and sub["name"] == "Nia"
    assert confirmed.headers["referrer-policy"] == "no-referrer" and confirmed.headers["cache-control"] == "no-store"
    assert client.post(_path(link)).status_code == 200  # clicking twice is fine
    assert "You are subscribed" in client.get(_path(link)).text  # and the link then says so
    preferences = re.search(r'href="(/preferences/[^"]+)"', confirmed.text).group(1)
    assert 'value="leadership" checked' in client.get(preferences).text


ADDRESSES = ("member@example.com", "bounced@example.com", "fresh@example.com")


def test_the_form_does_not_tell_who_is_subscribed(client, conf, engine):
    with engine.begin() as conn:
        subscribers.add(conn, "member@example.com")
        subscribers.suppress(conn, "bounced@example.com", "bounced")
    pages = [client.post("/subscribe", data={"email": a}) for a in ("member@example.com", "bounced@example.com")]
    fresh = client.post("/subscribe", data={"email": "fresh@example.com"})
    assert {p.status_code for p in pages} == {fresh.status_code} == {200}
    # The same page, but for the address typed in, which the page names (and the CSP nonce, new each time).
    texts = [same(p).replace(a, "ADDRESS") for p, a in zip([*pages, fresh], ADDRESSES, strict=True)]
    assert texts[0] == texts[1] == texts[2] and "<strong class=\"address\">ADDRESS</strong>" in texts[0]
    assert [m["To"] for m in _outbox(conf)] == ["fresh@example.com"]  # only the new address is mailed


def test_a_bad_address_redisplays_the_form_with_the_reason(client, engine):
    page = client.post("/subscribe", data={"email": "bob@", "name": "Bob", "topics": ["career"]})
    assert page.status_code == 400
    assert "There must be something after the @-sign." in page.text and 'value="Bob"' in page.text
    assert re.search(r'value="career" checked', page.text)
    unknown = client.post("/subscribe", data={"email": "bob@example.com", "topics": ["cooking"]})
    assert unknown.status_code == 400 and "unknown topic" in unknown.text
    assert _subscriber(engine, "bob@example.com") is None


def test_bots_filling_the_hidden_field_are_ignored(client, conf, engine):
    page = client.post("/subscribe", data={"email": "bot@example.com", "website": "http://spam.example"})
    assert page.status_code == 200 and "Check your inbox" in page.text
    assert _subscriber(engine, "bot@example.com") is None and _outbox(conf) == []


def test_a_failed_confirmation_email_is_said_plainly(conf, engine):
    from curator.errors import DeliveryError

    def refusing(settings, **message):
        raise DeliveryError("SendGrid refused the API key (401)")

    app = create_app(conf, engine)
    app.dependency_overrides[mailer] = lambda: refusing  # the provider's edge, not our code
    with TestClient(app, base_url="https://news.example.org") as client:
        page = client.post("/subscribe", data={"email": "ann@example.com"})
        assert page.status_code == 503 and "could not send the confirmation email" in page.text
        app.dependency_overrides.clear()  # the provider is back: "try again" works at once, despite the limit
        again = client.post("/subscribe", data={"email": "ann@example.com"})
    assert again.status_code == 200 and len(_outbox(conf)) == 1


def _made_days_ago(conf, purpose: str, days: int, subscriber_id: int, address: str) -> str:
    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - days * 86400

    serializer = URLSafeTimedSerializer(conf.secret_key, salt=tokens.SALT_PREFIX + purpose, signer=PastSigner,
                                        signer_kwargs={"digest_method": hashlib.sha256})
    return serializer.dumps([subscriber_id, tokens.email_digest(address)])


def test_broken_links_get_a_friendly_page(client, conf, engine):
    with engine.begin() as conn:
        sub, _ = subscribers.subscribe(conn, "ann@example.com")
    good = tokens.make_token(conf, "confirm", sub["id"], sub["email"])
    forger = conf.model_copy(update={"secret_key": "x" * 32})
    bad = {
        "forged": tokens.make_token(forger, "confirm", sub["id"], sub["email"]),
        "altered": good[:-3] + ("abc" if not good.endswith("abc") else "xyz"),
        "wrong purpose": tokens.make_token(conf, "unsubscribe", sub["id"], sub["email"]),
        "expired": _made_days_ago(conf, "confirm", conf.confirm_max_age_days + 1, sub["id"], sub["email"]),
        "another address": tokens.make_token(conf, "confirm", sub["id"], "eve@example.com"),
    }
    for case, token in bad.items():
        page = client.get(f"/confirm/{token}")
        assert page.status_code == 400, case
        assert "This link is broken or has expired" in page.text and 'href="/subscribe"' in page.text, case
    assert "has expired" in client.get(f"/confirm/{bad['expired']}").text
    assert _subscriber(engine, "ann@example.com")["status"] == "pending"
    for case, token in bad.items():
        assert client.post(f"/confirm/{token}").status_code == 400, case
    assert _subscriber(engine, "ann@example.com")["status"] == "pending"
    for path in ("/preferences/", "/unsubscribe/"):
        assert client.get(path + bad["altered"]).status_code == 400
    assert client.post("/unsubscribe/" + bad["wrong purpose"].replace("a", "b", 1)).status_code == 400


def test_one_click_unsubscribe(conf, engine):
    with engine.begin() as conn:
        sub = subscribers.add(conn, "ann@example.com", name="Ann")
    url = render.unsubscribe_url(conf, sub)
    with TestClient(create_app(conf, engine), base_url="https://news.example.org", cookies=None) as client:
        page = client.get(_path(url))
        assert page.status_code == 200 and _subscriber(engine, "ann@example.com")["status"] == "active"
        form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', page.text, re.S)
        assert form.group(1) == _path(url)
        assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in form.group(2)
        assert not client.cookies
        for _ in range(2):  # what a mail client sends (RFC 8058): idempotent
            answer = client.post(_path(url), content=b"List-Unsubscribe=One-Click",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"},
                                 follow_redirects=False)
            assert answer.status_code == 200 and "You are unsubscribed" in answer.text
            assert "set-cookie" not in answer.headers
    after = _subscriber(engine, "ann@example.com")
    assert after["status"] == "unsubscribed"
    with engine.connect() as conn:
        assert subscribers.suppression(conn, "ann@example.com")["reason"] == "unsubscribed"
        assert subscribers.audience(conn) == []


def test_a_broken_unsubscribe_link_offers_a_fresh_one_by_email(client, conf, engine):
    with engine.begin() as conn:
        sub = subscribers.add(conn, "ann@example.com", name="Ann")
    broken = _path(render.unsubscribe_url(conf, sub))[:-3] + "xyz"
    for answer in (client.get(broken), client.post(broken)):
        assert answer.status_code == 400 and "This link is broken or has expired" in answer.text
        assert "email you a fresh unsubscribe link" in answer.text
        assert _form_action(answer.text, "Email me a link") == "/unsubscribe"
        assert f'<a href="mailto:{conf.from_email}">{conf.from_email}</a>' in answer.text

    sent = client.post("/unsubscribe", data={"email": " Ann@Example.com "})
    assert sent.status_code == 200 and "Check your inbox" in sent.text and conf.from_email in sent.text
    [mail] = _outbox(conf)
    assert mail["To"] == "ann@example.com" and "unsubscribe" in mail["Subject"]
    link = _link(mail, f"{conf.base_url}/unsubscribe/")
    assert link in mail.get_body(("html",)).get_content()
    page = client.get(_path(link))  # the page with the button: opening the email's link changes nothing
    assert page.status_code == 200 and _subscriber(engine, "ann@example.com")["status"] == "active"
    assert "You are unsubscribed" in client.post(_form_action(page.text, "Unsubscribe")).text
    assert _subscriber(engine, "ann@example.com")["status"] == "unsubscribed"
    with engine.connect() as conn:
        [entry] = conn.execute(select(audit_log).where(audit_log.c.action == "subscriber.unsubscribe-link")).all()
    assert entry.target == f"subscriber:{sub['id']}" and "ann@" not in entry.detail  # no address in the log


def test_asking_for_a_fresh_unsubscribe_link_tells_nobody_who_subscribes(client, conf, engine):
    with engine.begin() as conn:
        subscribers.add(conn, "member@example.com")
        subscribers.subscribe(conn, "pending@example.com")
        subscribers.suppress(conn, "bounced@example.com", "bounced")
        gone = subscribers.add(conn, "gone@example.com")
        subscribers.unsubscribe(conn, gone["id"])
    addresses = ("member@example.com", "pending@example.com", "bounced@example.com", "gone@example.com",
                 "stranger@example.com")
    pages = [client.post("/unsubscribe", data={"email": address}) for address in addresses]
    assert {p.status_code for p in pages} == {200} and len({same(p) for p in pages}) == 1
    assert sorted(m["To"] for m in _outbox(conf)) == ["member@example.com", "pending@example.com"]
    bot = client.post("/unsubscribe", data={"email": "stranger@example.com", "website": "http://spam.example"})
    assert same(bot) == same(pages[0])
    bad = client.post("/unsubscribe", data={"email": "ann@"})
    assert bad.status_code == 400 and "There must be something after the @-sign." in bad.text
    assert 'value="ann@"' in bad.text and len(_outbox(conf)) == 2


def test_fresh_unsubscribe_links_go_out_at_most_every_ten_minutes(client, conf, engine):
    with engine.begin() as conn:
        subscribers.add(conn, "ann@example.com")
    for _ in range(3):
        answer = client.post("/unsubscribe", data={"email": "ann@example.com"})
        assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert len(_outbox(conf)) == 1
    with engine.begin() as conn:  # the last link went out eleven minutes ago
        conn.execute(update(audit_log).values(at=now() - timedelta(minutes=11)))
    client.post("/unsubscribe", data={"email": "ann@example.com"})
    assert len(_outbox(conf)) == 2


def test_a_failed_unsubscribe_link_email_is_not_told_and_not_counted(conf, engine):
    from curator.errors import DeliveryError

    sent: list[str] = []

    def flaky(settings, **message):
        if not sent:
            sent.append("refused")
            raise DeliveryError("SendGrid is down (503)")
        sent.append(message["to"])

    with engine.begin() as conn:
        subscribers.add(conn, "ann@example.com")
    app = create_app(conf, engine)
    app.dependency_overrides[mailer] = lambda: flaky  # the provider's edge, not our code
    with TestClient(app, base_url="https://news.example.org") as client:
        refused = client.post("/unsubscribe", data={"email": "ann@example.com"})
        unknown = client.post("/unsubscribe", data={"email": "nobody@example.com"})
        assert refused.status_code == 200 and same(refused) == same(unknown)
        client.post("/unsubscribe", data={"email": "ann@example.com"})  # not rate-limited: none went out
    assert sent == ["refused", "ann@example.com"]


def test_preferences_page_changes_topics_and_name(client, conf, engine):
    with engine.begin() as conn:
        sub = subscribers.add(conn, "ann@example.com", name="Ann", topics=["learning"], known_topics=None)
    url = _path(render.preferences_url(conf, sub))
    page = client.get(url)
    assert page.status_code == 200 and "ann@example.com" in page.text
    assert re.findall(r'name="topics" value="([a-z-]+)" checked', page.text) == ["learning"]
    titles = re.findall(r"<b>([A-Za-z]+)</b>", page.text)
    assert titles == ["Career", "Learning", "Leadership"] and "Jobs, growth and moves" in page.text
    saved = client.post(url, data={"name": "Ann Lee", "topics": ["leadership", "career"]})
    assert saved.status_code == 200 and "Saved" in saved.text
    after = _subscriber(engine, "ann@example.com")
    assert after["topics"] == ["career", "leadership"] and after["name"] == "Ann Lee"
    assert client.post(url, data={"topics": ["cooking"]}).status_code == 400


def _sent_issue(engine, period: str, status: str = "sent") -> None:
    with engine.begin() as conn:
        editorial.ensure_issue(conn, period, "test")
        issue_id = conn.execute(
            update(issues).where(issues.c.period == period)
            .values(status=status, subject=f"Issue {period}", sent_at=now()).returning(issues.c.id)
        ).scalar_one()
        feed_id = conn.execute(insert(feeds).returning(feeds.c.id), {"url": f"https://f.example/{period}",
                                                                      "title": "Some Feed"}).scalar_one()
        for rank, (topic, title) in enumerate([("leadership", "Lead well"), ("career", "<b>Get hired</b>")]):
            item_id = conn.execute(insert(items).returning(items.c.id), {
                "feed_id": feed_id, "url": f"https://a.example/{period}/{rank}",
                "canonical_url": f"https://a.example/{period}/{rank}", "title": title, "published_at": now(),
            }).scalar_one()
            conn.execute(insert(picks), {"issue_id": issue_id, "item_id": item_id, "topic": topic, "rank": rank,
                                         "decision": "approved"})


def test_the_archive_lists_sent_issues_and_shows_them_without_personal_values(client, engine):
    _sent_issue(engine, "2026-10")
    _sent_issue(engine, "2026-11")
    _sent_issue(engine, "2026-12", status="approved")
    index = client.get("/archive")
    assert index.status_code == 200
    assert re.findall(r'href="/archive/(\d{4}-\d\d)"', index.text) == ["2026-11", "2026-10"]
    page = client.get("/archive/2026-11")
    assert page.status_code == 200 and "Issue 2026-11" in page.text
    assert page.text.index('id="topic-career"') < page.text.index('id="topic-leadership"')  # feeds.yaml order
    assert "&lt;b&gt;Get hired&lt;/b&gt;" in page.text and "Some Feed" in page.text
    assert not any(key in page.text for key in render.SUBSTITUTION_KEYS) and "/unsubscribe/" not in page.text
    assert 'href="https://news.example.org/subscribe"' in page.text
    for missing in ("/archive/2026-12", "/archive/2031-01", "/archive/not-a-period"):
        answer = client.get(missing)
        assert answer.status_code == 404 and "No such issue" in answer.text and 'href="/archive"' in answer.text
