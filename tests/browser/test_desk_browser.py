"""An editor, in headless Chromium, reviews a whole issue of 30 picks without a page reload, then approves it.

The review is counted: one keystroke or one drag is one action, and the issue's bar is under
40 actions for 30 picks. A marker set on the page at the start must still be there at the end,
and the main frame must not have navigated: nothing reloaded. Every page visited is checked
with axe-core, and at a phone's width nothing scrolls sideways.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from curator import editorial
from curator.store.schema import audit_log, now, picks
from curator.web import create_app
from tests import newsroom
from tests.browser.axe import assert_accessible

pytestmark = pytest.mark.browser
EMAIL, PASSWORD = "editor@example.org", newsroom.PASSWORD
PERIOD = "2026-12"
TOPICS = {"career": ("salary", 10), "learning": ("course", 10), "leadership": ("feedback", 10)}
FEEDS_YAML = re.sub(r"quota: \d", "quota: 7", newsroom.FEEDS_YAML)
SUBJECTS = ["interview", "review", "plan", "habit", "guide", "story", "mistake", "question", "map", "checklist"]


def seed_issue(engine) -> dict[str, list[int]]:
    """An issue of 30 suggested picks, ten per topic, each with a score and its reasons."""
    rows = [(feed, f"The {word} of {subject} number {n}", f"Why {word} matters: {subject} {n}.", n % 9)
            for feed, (topic, (word, count)) in enumerate(TOPICS.items())
            for n, subject in zip(range(count), SUBJECTS, strict=True)]
    ids = newsroom.seed(engine, rows=rows)
    out: dict[str, list[int]] = {}
    with engine.begin() as conn:
        issue = editorial.ensure_issue(conn, PERIOD, "test")
        for topic, (word, _count) in TOPICS.items():
            mine = [ids[title] for _, title, _, _ in rows if f"The {word} " in title]
            for rank, item_id in enumerate(mine, start=1):
                pick_id = conn.execute(insert(picks).values(
                    issue_id=issue["id"], item_id=item_id, topic=topic, rank=rank, score=round(3 - rank * 0.2, 2),
                    parts={"matched": [word], "relevance": 1.5, "source_weight": 1.0, "freshness": 0.5},
                    decision="suggested", created_at=now() - timedelta(days=1),
                )).inserted_primary_key[0]
                out.setdefault(topic, []).append(pick_id)
    return out


@pytest.fixture
def desk(settings, engine, tmp_path, serve):
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(FEEDS_YAML, encoding="utf-8")
    conf = settings.model_copy(update={"feeds": feeds})
    with engine.begin() as conn:
        newsroom.add_user(conn, EMAIL, "editor")
    ids = seed_issue(engine)
    return serve(lambda base: create_app(conf.model_copy(update={"base_url": base}), engine)), ids


@pytest.fixture
def page(axe_page):
    """Every page these tests visit is checked with axe: the shared page that lets it past the CSP."""
    return axe_page


def decisions(engine) -> dict[int, dict]:
    with engine.connect() as conn:
        return {p["id"]: p for p in editorial.list_picks(conn, PERIOD)}


def fits_a_phone(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375, f"{page.url} is {width} px wide at a 375 px viewport: it scrolls sideways"


def test_an_editor_reviews_thirty_picks_by_keyboard_and_drag_and_approves(page, desk, engine, artifacts):
    from playwright.sync_api import expect

    base, ids = desk
    shot = lambda name: page.screenshot(path=str(artifacts / f"desk-{name}.png"), full_page=True)  # noqa: E731

    # Sign in, open the issue.
    page.goto(base + f"/desk/{PERIOD}")
    assert_accessible(page)
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="December 2026")).to_be_visible()
    expect(page.locator("li.pick.suggested")).to_have_count(30)
    expect(page.locator("html")).to_have_class(re.compile(r"\bjs\b"))  # desk.js ran
    # Issue 12: each candidate says what readers did with its source's past picks (none sent yet here).
    expect(page.locator(f"#pick-{ids['career'][0]}-readers")).to_have_text(
        "Readers of its source's past picks: no readers' data yet")
    assert_accessible(page)
    shot("1-issue")

    # From here on, nothing may reload the page.
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url))
    page.evaluate("() => { window.deskMarker = 'still here'; }")

    # The shortcuts overlay.
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    assert_accessible(page)
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()

    # Review by keyboard: j to start, then a (approve) or x (reject) on each pick, which moves on by
    # itself. One move up by keyboard (K) on the second pick of the first topic. Reject one pick in five.
    actions = 0

    def key(name: str) -> None:
        nonlocal actions
        page.keyboard.press(name)
        actions += 1

    order = [pick_id for topic in TOPICS for pick_id in ids[topic]]
    rejected = set(order[4::5])
    key("j")
    expect(page.locator(f"#pick-{order[0]}")).to_be_focused()
    for index, pick_id in enumerate(order):
        if index == 1:  # the second career pick goes first: one keystroke, then its decision
            key("K")
            expect(page.locator("#topic-career li.pick").first).to_have_attribute("data-pick", str(pick_id))
            expect(page.locator(f"#pick-{pick_id}")).to_be_focused()
        key("x" if pick_id in rejected else "a")
    # Keys go faster than the server answers: they wait their turn in the page's queue.
    expect(page.locator("li.pick.suggested")).to_have_count(0, timeout=60_000)
    expect(page.locator("#quota-bar")).to_contain_text("8/7")
    now = decisions(engine)
    assert {pid for pid, p in now.items() if p["decision"] == "rejected"} == rejected
    assert sum(p["decision"] == "approved" for p in now.values()) == 24
    career = [p["id"] for p in sorted(now.values(), key=lambda p: p["rank"]) if p["topic"] == "career"]
    assert career[:2] == [order[1], order[0]]

    # One drag: the third active learning pick to the top of its topic.
    learning = page.locator("#topic-learning ol.picks[data-order] > li.pick")
    third, first = learning.nth(2), learning.nth(0)
    dragged = third.get_attribute("data-pick")
    page.evaluate("() => document.getElementById('topic-learning').scrollIntoView()")
    handle, target = third.locator(".drag").bounding_box(), first.bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["x"] + 40, target["y"] + 4, steps=12)
    page.mouse.up()
    actions += 1
    expect(learning.first).to_have_attribute("data-pick", dragged)
    expect(page.locator("#desk-message")).to_contain_text("New order in learning saved")
    active = [p for p in decisions(engine).values() if p["topic"] == "learning" and p["decision"] != "rejected"]
    by_rank = sorted(active, key=lambda p: p["rank"])
    assert str(by_rank[0]["id"]) == dragged
    assert actions < 40, f"{actions} keystrokes and drags for 30 picks"
    assert actions == 33
    shot("2-reviewed")
    page.screenshot(path=str(artifacts / "desk-issue-viewport.png"))

    # Edit a pick: its title, a Markdown blurb, another topic, featured.
    pick_id = order[2]
    card = page.locator(f"#pick-{pick_id}")
    card.locator("details.edit > summary").click()
    card.get_by_label(re.compile("^Title")).fill("The salary guide, edited")
    blurb = "**Start here**: [the guide](https://g.example/) for\nyour next review."
    card.get_by_label(re.compile("^Blurb")).fill(blurb)
    card.get_by_label("Featured: first in the issue").check()
    card.get_by_role("button", name="Save the changes").click()
    saved = "Saved the title, blurb, featured of The salary guide, edited"
    expect(page.locator("#desk-message")).to_contain_text(saved)
    edited = decisions(engine)[pick_id]
    assert (edited["title"], edited["original_title"], edited["featured"]) == (
        "The salary guide, edited", now[pick_id]["title"], True)
    expect(page.locator(f"#pick-{pick_id} .blurb p strong")).to_have_text("Start here")
    expect(page.locator(f"#pick-{pick_id} .badge.featured")).to_be_visible()
    page.evaluate("() => document.getElementById('topic-career').scrollIntoView()")
    page.screenshot(path=str(artifacts / "desk-readme.png"))  # the README's picture of the desk
    with engine.connect() as conn:
        fields = conn.execute(select(audit_log.c.action).where(audit_log.c.target == f"{PERIOD}#{pick_id}")).scalars()
        assert {"pick.edit.title", "pick.edit.blurb", "pick.edit.featured"} <= set(fields)

    # Markdown in the introduction.
    page.get_by_label(re.compile("^Introduction")).fill("Welcome to **December**.\nRead [our notes](https://n.example/).")
    page.get_by_role("button", name="Save the text").click()
    expect(page.locator("#desk-message")).to_contain_text("Saved the subject, preheader and introduction")
    with engine.connect() as conn:
        assert editorial.get_issue(conn, PERIOD)["intro"].startswith("Welcome to **December**.")
    assert_accessible(page)

    # Still the same page: no navigation, no reload.
    assert navigations == []
    assert page.evaluate("() => window.deskMarker") == "still here"

    # A phone's width: the desk fits, and so does the preview.
    page.set_viewport_size({"width": 375, "height": 800})
    fits_a_phone(page)
    shot("3-phone")
    page.get_by_role("link", name="Preview").click()
    page.get_by_role("link", name="Phone (375 px)").click()
    expect(page.locator("iframe.email.phone")).to_be_visible()
    page.get_by_role("link", name="Dark").click()
    expect(page.locator("iframe.email.phone.dark")).to_be_visible()
    frame = page.frame_locator("iframe.email")
    expect(frame.locator("strong").first).to_have_text("December")
    expect(frame.locator("#featured")).to_be_visible()
    text = page.locator("pre.text")
    expect(text).to_contain_text("Welcome to December.")
    expect(text).to_contain_text("Read our notes (https://n.example/).")
    expect(text).to_contain_text("Start here: the guide (https://g.example/) for")
    expect(page.locator(".inbox-line .subject")).to_have_text("Growth resources for December 2026")
    fits_a_phone(page)
    assert_accessible(page)
    shot("4-preview-phone-dark")
    page.locator("iframe.email").screenshot(path=str(artifacts / "desk-4-email-phone-dark.png"))

    # Approve, on the confirmation page.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(base + f"/desk/{PERIOD}/approve")
    assert_accessible(page)
    page.get_by_role("button", name=re.compile("^Yes, approve the issue")).click()
    expect(page.locator(".flash.success")).to_contain_text(f"Issue {PERIOD} is approved")
    with engine.connect() as conn:
        assert editorial.get_issue(conn, PERIOD)["status"] == "approved"
    expect(page.locator("li.pick button")).to_have_count(0)  # no greyed controls: the issue as it goes out
    assert_accessible(page)
    shot("5-approved")

    # Every other desk page fits a phone.
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ("/desk", f"/desk/{PERIOD}", f"/desk/{PERIOD}/approve", f"/desk/{PERIOD}/preview"):
        page.goto(base + path)
        fits_a_phone(page)
        assert_accessible(page)


def test_the_desk_works_under_its_content_security_policy(browser, desk, engine):
    """Without bypassing the CSP (the test above must, for axe): htmx, SortableJS and desk.js run, none refused."""
    from playwright.sync_api import expect

    base, ids = desk
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
    try:
        page.goto(base + f"/desk/{PERIOD}")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("li.pick.suggested")).to_have_count(30)
        expect(page.locator("html")).to_have_class(re.compile(r"\bjs\b"))  # desk.js ran
        page.keyboard.press("j")
        page.keyboard.press("a")
        first = ids["career"][0]
        expect(page.locator(f"#pick-{first}")).to_have_class(re.compile(r"\bapproved\b"))
        assert decisions(engine)[first]["decision"] == "approved"
        assert page.evaluate("() => typeof Sortable") == "function"
        # Topics collapse, and stay collapsed when an action elsewhere swaps their section in again.
        toggle = page.get_by_role("button", name="Show or hide").nth(2)
        toggle.click()
        expect(page.locator("#topic-leadership-body")).to_be_hidden()
        assert toggle.get_attribute("aria-expanded") == "false"
        page.get_by_role("button", name="Approve within quota").click()
        expect(page.locator("#desk-message")).to_contain_text("Approved")
        expect(page.locator("#topic-leadership-body")).to_be_hidden()
        page.get_by_role("button", name="Show or hide").nth(2).click()
        expect(page.locator("#topic-leadership-body")).to_be_visible()
        assert refused == []
    finally:
        context.close()
