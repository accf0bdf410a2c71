"""The desk without reloads: each action answers htmx with the changed fragments, and a plain post with a redirect.

The plain-post path is the no-JavaScript desk: every action must work as an ordinary form.
"""

from __future__ import annotations

import html as html_lib
import re
import time

import pytest
from sqlalchemy import select

from curator import editorial
from curator.store.schema import audit_log, fetch_runs
from tests.ingest.feedserver import FeedServer, feed, http_date, rss
from tests.web import test_desk as base

PERIOD = base.PERIOD
HX = {"HX-Request": "true"}
post, flashes, pick_of, issue_of = base.post, base.flashes, base.pick_of, base.issue_of

# The desk tests' fixtures, shared.
conf, client, drafted, sign_in, pages = base.conf, base.client, base.drafted, base.sign_in, base.pages


def oob_ids(html: str) -> list[str]:
    """The ids of the elements a fragment swaps in (hx-swap-oob), the message aside."""
    return [found for found in re.findall(r'<\w+ id="([^"]+)"[^>]*hx-swap-oob=', html) if found != "desk-message"]


def message(html: str) -> str:
    found = re.search(r'<div id="desk-message" hx-swap-oob="innerHTML">(.*?)</div>\s*$', html, re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", "", found.group(1)).strip()) if found else ""


def test_the_issue_page_loads_htmx_and_the_desk_script_from_static_files(client, engine, drafted, sign_in):
    sign_in(client, engine)
    page = client.get(f"/desk/{PERIOD}").text
    for path in ("/static/vendor/htmx.min.js", "/static/vendor/Sortable.min.js", "/static/desk.js", "/static/desk.css"):
        assert path in page
        assert client.get(path).status_code == 200, path
    assert "<script>" not in page and " onclick=" not in page  # no inline script: the CSP forbids it
    assert "htmx.org" in client.get("/static/vendor/htmx.LICENSE").text or client.get(
        "/static/vendor/htmx.LICENSE").status_code == 200
    assert 'hx-post="/desk/' in page


@pytest.mark.parametrize("path, data, decision", [
    ("decision", {"decision": "approved"}, "approved"),
    ("decision", {"decision": "rejected"}, "rejected"),
])
def test_a_decision_with_and_without_htmx(client, engine, drafted, sign_in, path, data, decision):
    csrf = sign_in(client, engine)
    first, second = drafted[0], drafted[1]
    plain = post(client, f"/desk/{PERIOD}/picks/{first['id']}/{path}", data, csrf)
    assert (plain.status_code, plain.headers["location"]) == (303, f"/desk/{PERIOD}#pick-{first['id']}")
    assert pick_of(engine, first["id"])["decision"] == decision

    answer = post(client, f"/desk/{PERIOD}/picks/{second['id']}/{path}", data, csrf, headers=HX)
    assert answer.status_code == 200 and "location" not in answer.headers
    assert pick_of(engine, second["id"])["decision"] == decision
    assert oob_ids(answer.text) == [f"topic-{second['topic']}", "quota-bar", "counts"]
    assert f'id="pick-{second["id"]}" class="pick {decision}' in answer.text
    assert message(answer.text).startswith({"approved": "Approved", "rejected": "Rejected"}[decision])
    assert "<html" not in answer.text  # a fragment, not a page


def test_a_refusal_answers_htmx_with_the_reason_and_changes_nothing(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine)
    answer = post(client, f"/desk/{PERIOD}/picks/{drafted[0]['id']}/decision", {"decision": "maybe"}, csrf, headers=HX)
    assert answer.status_code == 200
    assert 'class="flash error" role="alert"' in answer.text and "&#39;maybe&#39; is not a decision" in answer.text
    assert pick_of(engine, drafted[0]["id"])["decision"] == "suggested"


def test_move_and_blurb_with_htmx(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine)
    career = [p for p in drafted if p["topic"] == "career"]
    answer = post(client, f"/desk/{PERIOD}/picks/{career[1]['id']}/move", {"direction": "up"}, csrf, headers=HX)
    assert message(answer.text) == f"Moved up: {career[1]['title']}"
    section = answer.text[answer.text.index('id="topic-career"'):]
    assert section.index(f'id="pick-{career[1]["id"]}"') < section.index(f'id="pick-{career[0]["id"]}"')
    answer = post(client, f"/desk/{PERIOD}/picks/{career[0]['id']}/blurb", {"blurb": "**Read** it"}, csrf, headers=HX)
    assert "<strong>Read</strong> it" in answer.text


def test_reorder_a_topic_with_and_without_htmx(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine)
    career = [p["id"] for p in drafted if p["topic"] == "career"]
    wanted = [career[-1], *career[:-1]]
    plain = post(client, f"/desk/{PERIOD}/topics/career/order", {"order": [str(i) for i in wanted]}, csrf)
    assert (plain.status_code, plain.headers["location"]) == (303, f"/desk/{PERIOD}#topic-career")
    assert "New order in career saved." in flashes(client)
    with engine.connect() as conn:
        assert [p["id"] for p in editorial.list_picks(conn, PERIOD) if p["topic"] == "career"] == wanted
    back = list(reversed(wanted))
    answer = post(client, f"/desk/{PERIOD}/topics/career/order", {"order": [str(i) for i in back]}, csrf, headers=HX)
    assert oob_ids(answer.text)[0] == "topic-career" and message(answer.text) == "New order in career saved."
    learning = next(p["id"] for p in drafted if p["topic"] == "learning")
    answer = post(client, f"/desk/{PERIOD}/topics/career/order", {"order": [str(learning)]}, csrf, headers=HX)
    assert f"pick #{learning} is not an active pick of career" in message(answer.text)


def test_edit_a_pick_with_and_without_htmx(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine)
    pick = next(p for p in drafted if p["topic"] == "career")
    form = {"title": "Better title", "summary": "", "topic": "leadership", "blurb": "*Why* it matters", "featured": ""}
    plain = post(client, f"/desk/{PERIOD}/picks/{pick['id']}/edit", form, csrf)
    assert plain.status_code == 303
    assert "Saved the title, blurb, topic of Better title." in flashes(client)
    edited = pick_of(engine, pick["id"])
    assert (edited["title"], edited["original_title"], edited["topic"]) == ("Better title", pick["title"], "leadership")
    page = client.get(f"/desk/{PERIOD}").text
    assert "Edited for this issue: see the original" in page and pick["title"] in page

    post(client, f"/desk/{PERIOD}/picks/{pick['id']}/decision", {"decision": "approved"}, csrf)
    answer = post(client, f"/desk/{PERIOD}/picks/{pick['id']}/edit", {**form, "featured": "1"}, csrf, headers=HX)
    assert message(answer.text) == "Saved the featured of Better title."
    assert set(oob_ids(answer.text)) >= {"topic-career", "topic-learning", "topic-leadership", "quota-bar"}
    assert pick_of(engine, pick["id"])["featured"] is True
    with engine.connect() as conn:
        actions = conn.execute(select(audit_log.c.action).where(audit_log.c.action.like("pick.edit.%"))).scalars()
        assert sorted(actions) == ["pick.edit.blurb", "pick.edit.featured", "pick.edit.title", "pick.edit.topic"]


def test_text_edits_answer_htmx_with_the_text_card(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine)
    answer = post(client, f"/desk/{PERIOD}/edit", {"subject": "S", "preheader": "P", "intro": "**Hi**"}, csrf,
                  headers=HX)
    assert oob_ids(answer.text) == ["quota-bar", "counts", "text"]
    assert issue_of(engine)["intro"] == "**Hi**"


def test_approve_within_quota_with_htmx_is_one_audit_entry(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine)
    answer = post(client, f"/desk/{PERIOD}/approve-quota", {}, csrf, headers=HX)
    assert message(answer.text) == "Approved 5 suggested picks within each topic's quota."
    assert oob_ids(answer.text)[:3] == ["topic-career", "topic-learning", "topic-leadership"]
    with engine.connect() as conn:
        assert conn.execute(select(audit_log.c.action).where(audit_log.c.action.like("pick.approve%"))).scalars(
        ).all() == ["pick.approve_quota"]


def test_add_a_link_keeps_the_address_when_the_title_cannot_be_read(client, engine, drafted, pages, sign_in):
    csrf = sign_in(client, engine)
    typed = {"url": f"{pages}/missing", "topic": "learning", "title": "", "summary": "Typed summary"}
    plain = post(client, f"/desk/{PERIOD}/links", typed, csrf)
    assert plain.status_code == 303 and plain.headers["location"].endswith("#add-link")
    page = client.get(plain.headers["location"]).text
    form = page[page.index('id="add-link"'):]
    assert f'value="{pages}/missing"' in form and "Typed summary" in form
    assert "could not fetch that page. Type a title" in form and "the page did not give one: type it" in form
    assert '<option value="learning" selected>' in form

    answer = post(client, f"/desk/{PERIOD}/links", typed, csrf, headers=HX)
    assert "add-link" in oob_ids(answer.text) and f'value="{pages}/missing"' in answer.text
    answer = post(client, f"/desk/{PERIOD}/links", {**typed, "title": "Typed title"}, csrf, headers=HX)
    assert message(answer.text) == "Added Typed title to learning, approved."
    assert 'id="link-url" name="url" type="url" required placeholder="https://…" value=""' in answer.text


def test_new_since_your_last_visit(client, engine, drafted, sign_in):
    sign_in(client, engine)
    first = client.get(f"/desk/{PERIOD}").text
    assert "new since your last visit" not in first  # the first visit: nothing to compare with
    with engine.begin() as conn:  # a candidate arrives (a fetch, or another editor) after that visit
        editorial.add_link(conn, PERIOD, url="https://n.example/1", title="Arrived later", summary="", topic="career",
                           actor="other@example.org")
    second = client.get(f"/desk/{PERIOD}").text
    assert "1 new since your last visit" in second
    assert re.search(r'class="pick approved new"[^>]*>.*?Arrived later', second, re.S)
    assert '<span class="badge new">new</span>' in second
    assert "new since your last visit" not in client.get(f"/desk/{PERIOD}").text


def test_a_sent_issue_shows_no_controls_only_what_went_out(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine)
    post(client, f"/desk/{PERIOD}/picks/{drafted[0]['id']}/decision", {"decision": "approved"}, csrf)
    post(client, f"/desk/{PERIOD}/edit", {"subject": "Sent one", "preheader": "", "intro": "**Hello**"}, csrf)
    with engine.begin() as conn:
        for status in ("approved", "sending", "sent"):
            editorial.transition(conn, PERIOD, status, "ops")
    page = client.get(f"/desk/{PERIOD}").text.split("</header>", 1)[1]
    assert "disabled" not in page and 'type="submit"' not in page and "<form" not in page
    assert drafted[0]["title"] in page and drafted[1]["title"] not in page  # approved picks only
    assert "<strong>Hello</strong>" in page and "Sent: this is the issue as it went out." in page


def test_fetch_feeds_now_with_progress(client, engine, conf, drafted, sign_in, tmp_path):
    with FeedServer() as server:
        server.routes["/feed"] = feed(rss("Fresh", [
            {"title": "A course on deliberate practice for learning", "link": "https://f.example/1",
             "date": http_date(), "description": "A learning course and tutorial."},
            {"title": "How to ask for a salary review", "link": "https://f.example/2", "date": http_date(),
             "description": "Career salary and promotion guide."},
        ]))
        feeds = tmp_path / "fetch-feeds.yaml"
        feeds.write_text(base.newsroom.FEEDS_YAML.split("feeds:")[0] + f"feeds:\n  - url: {server.url('/feed')}\n")
        client.app.state.settings = conf.model_copy(update={"feeds": feeds})
        csrf = sign_in(client, engine)
        plain = post(client, f"/desk/{PERIOD}/fetch", {}, csrf)
        assert (plain.status_code, plain.headers["location"]) == (303, f"/desk/{PERIOD}/fetch")
        for _ in range(600):  # the run is a thread: poll its status as the browser does
            fragment = client.get(f"/desk/{PERIOD}/fetch", headers=HX).text
            if "every 1s" not in fragment:
                break
            time.sleep(0.05)
    assert fragment.startswith('<div id="fetch-status"') and "<html" not in fragment
    assert "Done: 1 feeds fetched" in fragment
    found = re.search(r"2 new items, (\d+) new candidates", fragment)  # how many rank is the ranking's call
    assert found and int(found.group(1)) >= 1, fragment
    assert "Show the new candidates" in fragment
    page = client.get(f"/desk/{PERIOD}/fetch").text  # the page for a browser without JavaScript
    assert "<html" in page and "Done: 1 feeds fetched" in page and 'http-equiv="refresh"' not in page
    with engine.connect() as conn:
        assert conn.execute(select(fetch_runs.c.state)).scalars().all() == ["done"]
