"""Ops, in headless Chromium: import a CSV with a progress bar, edit the schedule, start a send and watch it finish.

Every page is checked with axe and at 375 px. A real `curator worker` subprocess delivers the
send (outbox backend); the console only starts it and follows it.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from curator import subscribers, users
from curator.store.schema import schedule_overrides
from curator.web import create_app
from tests.browser.readers_checks import check_page, page  # noqa: F401 (axe needs its script past the CSP)
from tests.browser.test_ops_browser import EMAIL, PASSWORD, worker
from tests.deliver.helpers import PERIOD, add_audience, make_issue

pytestmark = pytest.mark.browser
CSV_LINES = ["email,name,topics"] + [f"person{i}@example.com,Person {i},career" for i in range(450)] + [
    "not-an-address,Nobody,", "person3@example.com,Again,", "someone@example.com,Some One,cooking"]


@pytest.fixture
def conf(settings):
    return settings.model_copy(update={"send_batch_size": 50, "send_poll_seconds": 0.2})


@pytest.fixture
def console(conf, engine, serve):
    make_issue(engine)
    add_audience(engine, 20, prefix="early")
    with engine.begin() as conn:
        users.add_user(conn, EMAIL, "ops", PASSWORD)
    return serve(lambda base: create_app(conf.model_copy(update={"base_url": base}), engine))


def test_ops_import_a_csv_edit_the_schedule_and_watch_a_send(page, console, conf, engine, artifacts, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    page.goto(console + "/ops")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".next-send-words")).to_have_text(
        re.compile(r"^\w{3} \d+ \w{3} 09:00 — \w+ \d{4} — no draft yet \(this blocks the send\)$"))
    check_page(page)

    # Subscribers: import a CSV in parts, with a progress bar and every refused line.
    page.get_by_role("link", name="Subscribers").first.click()
    expect(page.get_by_role("heading", name="Subscribers", exact=True)).to_be_visible()
    check_page(page)
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("\n".join(CSV_LINES) + "\n")
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-status")).to_have_text("Done: 450 added, 3 refused.", timeout=60_000)
    expect(page.locator("#import-progress")).to_have_attribute("value", str(len(CSV_LINES) - 1))
    errors = page.locator("#import-errors li")
    expect(errors).to_have_count(3)
    expect(errors.nth(0)).to_contain_text("Line 452 (not-an-address)")
    expect(errors.nth(1)).to_contain_text("Line 453 (person3@example.com)")
    expect(errors.nth(2)).to_contain_text("Line 454 (someone@example.com)")
    check_page(page, artifacts / "console-import-phone.png")
    page.screenshot(path=str(artifacts / "console-import.png"), full_page=True)
    with engine.connect() as conn:
        assert subscribers.status_counts(conn)["active"] == 470

    page.get_by_label("Address or name").fill("person44")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("td.address strong")).to_have_count(11)  # person44, person440..449
    check_page(page)

    # The schedule: the send moves to the 3rd at 18:30, and the first screen says so.
    page.get_by_role("link", name="Schedule").first.click()
    check_page(page)
    page.get_by_label(re.compile("^Cron fields.*day=1st tue")).fill("day=3 hour=18 minute=30")
    page.get_by_role("button", name="Save send").click()
    expect(page.locator(".flash.success")).to_contain_text("day=3 hour=18 minute=30")
    check_page(page)
    with engine.connect() as conn:
        assert conn.execute(select(schedule_overrides.c.fields)).scalar() == "day=3 hour=18 minute=30"
    page.get_by_role("link", name="Overview").click()
    expect(page.locator(".next-send-words")).to_contain_text(re.compile(r"\w{3} 3 \w{3} 18:30 — "))
    page.screenshot(path=str(artifacts / "console.png"), full_page=True)

    # A send, watched to its end.
    page.goto(f"{console}/ops/issues/{PERIOD}")
    check_page(page)
    page.get_by_role("link", name="Send now…").click()
    check_page(page)
    page.get_by_role("button", name="Send to 470 subscribers").click()
    expect(page.locator("#status")).to_have_text("sending")
    process = worker(conf)
    try:
        expect(page.locator("#status")).to_have_text("sent", timeout=90_000)
        expect(page.locator("#count-sent")).to_have_text("470")
        expect(page.locator("#finished_text")).to_contain_text("UTC")
        expect(page.locator("#left-line")).to_be_hidden()
        expect(page.locator("#throughput_text")).to_contain_text("recipients/s")
        bar = page.locator("#done").bounding_box()
        main = page.locator("#progress").bounding_box()
        assert bar["width"] >= main["width"] - 2, "the progress bar spans the page"
        check_page(page, artifacts / "console-send-phone.png")
        page.screenshot(path=str(artifacts / "console-send.png"), full_page=True)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "time left" not in page.inner_text("#progress").lower()


def test_every_other_ops_and_public_page_fits_a_phone(page, console, conf, engine):  # noqa: F811
    """The pages the journeys above do not pass through: axe, and 375 px without sideways scrolling."""
    from curator import alerts

    with engine.begin() as conn:
        subscribers.add(conn, "a.very.long.address.that.might.overflow@subdomain.example.com", topics=["career"])
    alerts.raise_alert(conf, engine, "send_missed", "The send of issue 2026-05 was missed " * 3,
                       period=PERIOD)
    for path in ("/", "/archive", "/subscribe", "/unsubscribe", "/archive/2031-01", "/login"):
        page.goto(console + path)
        check_page(page)
    page.goto(console + "/ops")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    for path in ("/ops", "/ops/alerts", "/ops/feeds", "/ops/audit", "/ops/deliverability", "/ops/schedule",
                 "/ops/subscribers", f"/ops/issues/{PERIOD}", f"/ops/issues/{PERIOD}/send"):
        page.goto(console + path)
        check_page(page)

