"""A subscriber, in headless Chromium: subscribe, confirm from the email, get the welcome, switch to
"only my topics", change address, unsubscribe, undo; and the public archive. Every page is checked
with axe and at 375 px."""

from __future__ import annotations

import email
import email.policy
import re

import pytest
from sqlalchemy import update

from curator import editorial
from curator.store.schema import issues, now
from curator.web import create_app
from tests.browser.readers_checks import check_page, page  # noqa: F401 (axe needs its script past the CSP)
from tests.deliver.helpers import make_issue
from tests.web.test_public import FEEDS_YAML

pytestmark = pytest.mark.browser
PERIOD = "2026-11"


@pytest.fixture
def conf(settings, tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS_YAML)
    return settings.model_copy(update={"feeds": path, "from_name": "Growth Notes",
                                       "brand_footer": "Made with care by the Growth Notes editors."})


@pytest.fixture
def site(conf, engine, serve):
    make_issue(engine, PERIOD, topics=("career", "learning", "leadership"))
    with engine.begin() as conn:
        editorial.transition(conn, PERIOD, "sending", "test")
        conn.execute(update(issues).where(issues.c.period == PERIOD)
                     .values(status="sent", sent_at=now(), subject="Growth Notes, November 2026"))
    return serve(lambda base: create_app(conf.model_copy(update={"base_url": base}), engine))


def mails(conf, to: str) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted(conf.outbox_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"].addresses[0].addr_spec == to:
            found.append(message)
    return found


def link(message, prefix: str) -> str:
    text = message.get_body(("plain",)).get_content()
    return next(w for w in text.split() if w.startswith(prefix))


def test_a_subscriber_from_subscribing_to_undoing_an_unsubscribe(page, site, conf, engine, artifacts):  # noqa: F811
    from playwright.sync_api import expect

    def shot(name: str):
        return artifacts / f"subscriber-{name}.png"

    page.goto(site + "/subscribe")
    check_page(page, shot("1-subscribe"))
    page.get_by_label("Email address").fill("nia@example.com")
    page.get_by_label("Name").fill("Nia")
    page.get_by_role("checkbox", name=re.compile("^Career")).check()
    page.get_by_role("checkbox", name=re.compile("^Leadership")).check()
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(page.locator("strong.address")).to_have_text("nia@example.com")
    check_page(page, shot("2-check-inbox"))
    page.get_by_role("button", name="Send the email again").click()
    expect(page.get_by_text("at most once every ten minutes")).to_be_visible()
    check_page(page)

    [first, again] = mails(conf, "nia@example.com")  # the confirmation, and the one resent
    assert first["Subject"] == again["Subject"] == "Confirm your subscription to Growth Notes"
    page.goto(link(first, site + "/confirm/"))
    check_page(page)
    page.get_by_role("button", name="Confirm my subscription").click()
    expect(page.get_by_role("heading", name="You are subscribed")).to_be_visible()
    check_page(page, shot("3-subscribed"))

    welcome = mails(conf, "nia@example.com")[-1]
    assert welcome["Subject"] == "Welcome to Growth Notes"
    assert link(welcome, site + "/archive/") == f"{site}/archive/{PERIOD}"
    page.goto(link(welcome, site + "/preferences/"))
    expect(page.get_by_role("heading", name="Your preferences")).to_be_visible()
    check_page(page)
    page.get_by_role("radio", name=re.compile("^Only my topics")).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile("^Only my topics"))).to_be_checked()
    check_page(page, shot("4-only-my-topics"))

    page.get_by_label("New address").fill("nia.new@example.com")
    page.get_by_role("button", name="Change my address").click()
    expect(page.get_by_text("we sent a link to nia.new@example.com")).to_be_visible()
    check_page(page)
    [change] = mails(conf, "nia.new@example.com")
    page.goto(link(change, site + "/address/"))
    check_page(page)
    page.get_by_role("button", name="Yes, use this address").click()
    expect(page.get_by_text("now goes to nia.new@example.com")).to_be_visible()
    check_page(page)

    page.get_by_role("link", name="Your preferences").click()
    expect(page.get_by_text("nia.new@example.com").first).to_be_visible()
    page.get_by_role("link", name="Unsubscribe", exact=True).click()
    check_page(page)
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    check_page(page, shot("5-unsubscribed"))
    page.get_by_role("radio", name="Too many emails").check()
    page.get_by_role("button", name="Send the answer").click()
    expect(page.get_by_text("Thank you for telling us")).to_be_visible()
    check_page(page)
    page.get_by_role("button", name="Undo: keep me subscribed").click()
    expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
    check_page(page, shot("6-welcome-back"))

    from curator import subscribers

    with engine.connect() as conn:
        sub = subscribers.find(conn, "nia.new@example.com")
        assert [a["variant"] for a in subscribers.audience(conn)] == ["only:career,leadership"]
    assert sub["status"] == "active" and sub["only_my_topics"] and sub["unsubscribe_reason"] is None


def test_the_public_archive(page, site, conf, artifacts):  # noqa: F811
    from playwright.sync_api import expect

    page.goto(site + "/")
    check_page(page)
    page.get_by_role("link", name="Archive").first.click()
    expect(page.get_by_role("heading", name="Past issues")).to_be_visible()
    assert page.locator('link[rel="alternate"][type="application/atom+xml"]').count() == 1
    check_page(page)
    page.get_by_role("link", name="Growth Notes, November 2026").click()
    expect(page.get_by_role("heading", name="Growth Notes, November 2026")).to_be_visible()
    expect(page.get_by_role("navigation", name="Site")).to_be_visible()
    expect(page.get_by_label("Get the next issue by email")).to_be_visible()
    assert "Hi " not in page.inner_text("body") and "your topics" not in page.inner_text("body").lower()
    assert page.locator('meta[property="og:title"]').get_attribute("content") == "Growth Notes, November 2026"
    check_page(page, artifacts / "archive-phone.png")
    page.screenshot(path=str(artifacts / "archive.png"), full_page=True)
    feed = page.request.get(site + "/archive.atom")
    assert feed.ok and f"{site}/archive/{PERIOD}".encode() in feed.body()
