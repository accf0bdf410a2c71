"""Readers' feedback and the ops report, in headless Chromium: a reader answers "more like this" from
their email (the outbox's copy), then ops read the issue's report. Both pages pass axe."""

from __future__ import annotations

import email
import email.policy
import html
import re

import pytest
from sqlalchemy import select

from curator import deliver, users
from curator.store.schema import feedback
from curator.web import create_app
from tests.browser.axe import assert_accessible
from tests.deliver.helpers import PERIOD, add_audience, make_issue

pytestmark = pytest.mark.browser
EMAIL, PASSWORD = "ops@example.org", "correct horse battery"


@pytest.fixture
def page(axe_page):
    """Every page these tests visit is checked with axe: the shared page that lets it past the CSP."""
    return axe_page


@pytest.fixture
def sent(settings, engine, serve):
    """An issue sent through the outbox to two readers, by an app served at `base`; returns (base, settings)."""
    make_issue(engine)
    add_audience(engine, 2, variants=1)
    with engine.begin() as conn:
        users.add_user(conn, EMAIL, "ops", PASSWORD)
    base = serve(lambda url: create_app(settings.model_copy(update={"base_url": url}), engine))
    conf = settings.model_copy(update={"base_url": base})
    deliver.start(engine, PERIOD, "test")
    deliver.Worker(conf, engine).run()
    return base, conf


def first_feedback_link(conf) -> str:
    path = sorted(conf.outbox_dir.glob("*.eml"))[0]
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("html",)).get_content()
    links = re.findall(r'href="([^"]+/f/[^"]+vote=more)"', body)
    assert links, "the email has no 'more like this' link"
    return html.unescape(links[0])


def test_a_reader_asks_for_more_and_ops_see_it_in_the_report(page, sent, engine, artifacts):
    from playwright.sync_api import expect

    base, conf = sent
    page.goto(first_feedback_link(conf))
    expect(page.get_by_role("heading", name="More or less like this?")).to_be_visible()
    assert_accessible(page)
    page.screenshot(path=str(artifacts / "engagement-1-feedback.png"), full_page=True)
    with engine.connect() as conn:
        assert conn.execute(select(feedback)).first() is None  # opening the link changed nothing
    page.get_by_role("button", name="More like this").click()
    expect(page.get_by_role("status")).to_contain_text("you asked for more like this")
    assert_accessible(page)
    with engine.connect() as conn:
        assert [row.vote for row in conn.execute(select(feedback))] == [1]

    page.goto(base + f"/ops/reports/{PERIOD}")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Readers of May 2026")).to_be_visible()
    expect(page.locator("#human-clickers")).to_have_text("0")
    expect(page.get_by_role("img", name=re.compile("Share of recipients who opened"))).to_be_visible()
    more = page.locator("table").nth(1).locator("tbody tr").filter(has_text="career").locator("td").nth(4)
    expect(more).to_have_text("1")
    assert_accessible(page)
    page.screenshot(path=str(artifacts / "engagement-2-report.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the picks as CSV").click()
    assert download.value.suggested_filename == f"curator-{PERIOD}.csv"
