"""An editor, in headless Chromium, goes from an empty desk to an approved issue."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import func, select

from curator import editorial, users
from curator.store.schema import audit_log
from curator.web import create_app
from tests import newsroom

pytestmark = pytest.mark.browser
EMAIL, PASSWORD = "editor@example.org", newsroom.PASSWORD


@pytest.fixture
def desk_url(settings, engine, tmp_path, serve):
    conf = settings.model_copy(update={"feeds": newsroom.write_feeds_yaml(tmp_path)})
    newsroom.seed(engine)
    with engine.begin() as conn:
        newsroom.add_user(conn, EMAIL, "editor")
    return serve(lambda base: create_app(conf.model_copy(update={"base_url": base}), engine))


def picks(engine, period):
    with engine.connect() as conn:
        return {p["id"]: p for p in editorial.list_picks(conn, period)}


def audit_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(audit_log)).scalar_one()


def test_an_editor_approves_an_issue_in_the_browser(page, desk_url, engine, artifacts):
    from playwright.sync_api import expect

    shot = lambda name: page.screenshot(path=str(artifacts / f"desk-{name}.png"), full_page=True)  # noqa: E731

    # Sign in: the desk sends a visitor to the sign-in page first.
    page.goto(desk_url + "/desk")
    expect(page).to_have_url(re.compile(r"/login\?next=/desk$"))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    shot("1-sign-in")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Editors' desk")).to_be_visible()
    with engine.connect() as conn:
        assert users.get_user(conn, EMAIL)["last_login_at"] is not None

    # Build the coming month's draft from the index.
    period = editorial.coming_period(datetime.now())
    page.get_by_role("button", name=re.compile("Build the draft for")).click()
    expect(page.locator(".flash.success")).to_contain_text(f"Draft for {period}")
    drafted = picks(engine, period)
    assert drafted and {p["decision"] for p in drafted.values()} == {"suggested"}
    shot("2-draft")

    # Approve three picks.
    chosen = sorted(drafted.values(), key=lambda p: (p["topic"], p["rank"]))[:3]
    for pick in chosen:
        page.get_by_role("button", name=f"Approve “{pick['title']}”").click()
        expect(page.locator(".flash.success")).to_contain_text(f"Approved: {pick['title']}")
        assert picks(engine, period)[pick["id"]]["decision"] == "approved"

    # Reorder two: the second career pick moves up above the first.
    career = sorted((p for p in drafted.values() if p["topic"] == "career"), key=lambda p: p["rank"])
    first, second = career[0], career[1]
    page.get_by_role("button", name=f"Move “{second['title']}” up").click()
    expect(page.locator(".flash.success")).to_contain_text(f"Moved up: {second['title']}")
    now = picks(engine, period)
    assert now[second["id"]]["rank"] < now[first["id"]]["rank"]

    # Write a blurb.
    card = page.locator(f"#pick-{first['id']}")
    card.get_by_text("Write a blurb").click()
    card.get_by_label("Blurb").fill("The clearest salary guide we read this month.")
    card.get_by_role("button", name="Save the blurb").click()
    expect(page.locator(".flash.success")).to_contain_text("Saved the blurb")
    assert picks(engine, period)[first["id"]]["blurb"] == "The clearest salary guide we read this month."
    expect(page.locator(f"#pick-{first['id']} .why")).to_contain_text("matched:")
    shot("3-issue")
    page.screenshot(path=str(artifacts / "desk-issue-viewport.png"))

    # Preview: the HTML in a sandboxed frame and the plain text, changing nothing.
    before = audit_count(engine)
    page.get_by_role("link", name="Preview").click()
    expect(page.get_by_role("heading", name=re.compile("^Preview"))).to_be_visible()
    frame = page.frame_locator("iframe.email")
    expect(frame.locator("body")).to_contain_text(first["title"])
    expect(page.locator("pre.text")).to_contain_text(first["title"])
    assert page.locator("iframe.email").get_attribute("sandbox") == ""
    shot("4-preview")
    assert audit_count(engine) == before

    # Approve the issue, after the confirmation page and its warnings.
    page.get_by_role("link", name=re.compile(r"\w+ \d{4}$")).last.click()
    page.get_by_role("link", name="Approve the issue…").click()
    expect(page.get_by_role("heading", name=re.compile("^Approve .*\\?$"))).to_be_visible()
    shot("5-confirm")
    with engine.connect() as conn:
        assert editorial.get_issue(conn, period)["status"] == "draft"  # nothing happens before confirming
    page.get_by_role("button", name=re.compile("^Yes, approve the issue")).click()
    expect(page.locator(".flash.success")).to_contain_text(f"Issue {period} is approved")
    with engine.connect() as conn:
        issue = editorial.get_issue(conn, period)
    assert (issue["status"], issue["approved_by"]) == ("approved", EMAIL)
    assert [p["decision"] for p in picks(engine, period).values()].count("approved") == 3
    shot("6-approved")

