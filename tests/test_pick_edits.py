"""Editing a pick: its words (the original kept), its topic, its place, the featured pick; audited by field."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from curator import editorial, pick_edits, render
from curator.errors import CuratorError, IllegalTransition
from curator.store.schema import audit_log, picks
from tests import newsroom
from tests.test_editorial import PERIOD, TOPICS, force_status

KNOWN = [name for name, _ in TOPICS]


@pytest.fixture
def drafted(engine, settings, tmp_path):
    """An issue with candidates, built by the real draft."""
    from curator.curate import build_draft
    from curator.sources import load_sources

    newsroom.seed(engine)
    conf = settings.model_copy(update={"feeds": newsroom.write_feeds_yaml(tmp_path)})
    build_draft(engine, conf, load_sources(conf.feeds), PERIOD, actor="test")
    with engine.connect() as conn:
        return editorial.list_picks(conn, PERIOD)


def audit_rows(engine, prefix: str = "pick.") -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(audit_log.c.action, audit_log.c.target, audit_log.c.detail)
            .where(audit_log.c.action.startswith(prefix)).order_by(audit_log.c.id)
        )]


def edit(engine, pick_id: int, **fields) -> list[str]:
    with engine.begin() as conn:
        return pick_edits.edit_pick(conn, pick_id, "ed@example.org", known_topics=KNOWN, **fields)


def pick(engine, pick_id: int) -> dict:
    with engine.connect() as conn:
        return editorial.get_pick(conn, pick_id)


def test_title_and_summary_edits_keep_the_original(engine, drafted):
    first = drafted[0]
    assert edit(engine, first["id"], title="  A  better title ", summary="Shorter.") == ["title", "summary"]
    now = pick(engine, first["id"])
    assert (now["title"], now["summary_text"]) == ("A better title", "Shorter.")
    assert (now["original_title"], now["original_summary"]) == (first["title"], first["summary_text"])
    assert audit_rows(engine) == [
        ("pick.edit.title", f"{PERIOD}#{first['id']}", "A better title"),
        ("pick.edit.summary", f"{PERIOD}#{first['id']}", "Shorter."),
    ]
    assert edit(engine, first["id"], title="A better title", summary="Shorter.") == []  # no change, no entry
    assert edit(engine, first["id"], title="", summary=first["summary_text"]) == ["title", "summary"]
    restored = pick(engine, first["id"])
    assert (restored["title"], restored["edited_title"], restored["edited_summary"]) == (first["title"], None, None)
    assert audit_rows(engine)[-1][2] == "back to the original"


def test_an_edited_title_is_what_subscribers_read(engine, drafted):
    first = drafted[0]
    with engine.begin() as conn:
        editorial.decide_pick(conn, first["id"], "approved", "ed")
    edit(engine, first["id"], title="Edited for the issue", blurb="**Read** it.")
    with engine.connect() as conn:
        content = editorial.issue_content(conn, PERIOD, TOPICS)
    shown = content.sections[0].picks[0]
    assert (shown.title, shown.blurb) == ("Edited for the issue", "**Read** it.")


def test_moving_a_pick_to_another_topic_puts_it_last_there(engine, drafted):
    career = next(p for p in drafted if p["topic"] == "career")
    assert edit(engine, career["id"], topic="leadership") == ["topic"]
    moved = pick(engine, career["id"])
    others = [p for p in drafted if p["topic"] == "leadership"]
    assert moved["topic"] == "leadership" and moved["rank"] > max(p["rank"] for p in others)
    assert audit_rows(engine)[-1] == ("pick.edit.topic", f"{PERIOD}#{career['id']}", "career -> leadership")
    with pytest.raises(CuratorError, match="'astrology' is not a topic of feeds.yaml"):
        edit(engine, career["id"], topic="astrology")


def test_one_featured_pick_per_issue_first_in_every_email(engine, drafted, settings):
    a, b = drafted[0], next(p for p in drafted if p["topic"] == "leadership")
    with pytest.raises(CuratorError, match="approve it before featuring it"):
        edit(engine, a["id"], featured=True)
    with engine.begin() as conn:
        for p in (a, b):
            editorial.decide_pick(conn, p["id"], "approved", "ed")
    edit(engine, a["id"], featured=True)
    edit(engine, b["id"], featured=True)  # takes the place of the first
    assert (pick(engine, a["id"])["featured"], pick(engine, b["id"])["featured"]) == (False, True)
    assert ("pick.edit.featured", f"{PERIOD}#{a['id']}", "False (another pick is featured)") in audit_rows(engine)
    with engine.connect() as conn:
        content = editorial.issue_content(conn, PERIOD, TOPICS)
    assert content.featured.title == b["title"]
    assert all(p.title != b["title"] for s in content.sections for p in s.picks)  # not twice
    email = render.render_for(content, {"id": 1, "email": "a@example.com", "topics": ["career"]}, settings)
    assert email.text.index("EDITORS' PICK") < email.text.index(b["title"]) < email.text.index("CAREER")
    assert email.html.index('id="featured"') < email.html.index(b["title"]) < email.html.index(a["title"])
    with engine.begin() as conn:  # rejecting it unfeatures it
        editorial.decide_pick(conn, b["id"], "rejected", "ed")
    assert pick(engine, b["id"])["featured"] is False


def test_the_database_allows_one_featured_pick_per_issue(engine, drafted):
    from sqlalchemy import update

    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(update(picks).where(picks.c.id.in_([drafted[0]["id"], drafted[1]["id"]])).values(featured=True))


def test_reorder_a_topic_by_ids(engine, drafted):
    career = [p["id"] for p in drafted if p["topic"] == "career"]
    wanted = [career[-1], *career[:-1]]
    with engine.begin() as conn:
        assert pick_edits.reorder(conn, PERIOD, "career", wanted, "ed") is True
        assert pick_edits.reorder(conn, PERIOD, "career", wanted, "ed") is False  # already so
    with engine.connect() as conn:
        now = [p["id"] for p in editorial.list_picks(conn, PERIOD) if p["topic"] == "career"]
    assert now == wanted
    assert audit_rows(engine) == [("pick.reorder", f"{PERIOD}/career", " ".join(f"#{i}" for i in wanted))]
    learning = next(p["id"] for p in drafted if p["topic"] == "learning")
    with pytest.raises(CuratorError, match=f"pick #{learning} is not an active pick of career"), engine.begin() as c:
        pick_edits.reorder(c, PERIOD, "career", [learning], "ed")


def test_edits_only_while_editable(engine, drafted):
    force_status(engine, "approved")
    with pytest.raises(IllegalTransition, match="reopen it for edits first"):
        edit(engine, drafted[0]["id"], title="Nope")


def test_a_bulk_approval_is_one_audit_entry(engine, drafted):
    with engine.begin() as conn:
        count = editorial.approve_all(conn, PERIOD, {"career": 2, "learning": 2, "leadership": 1}, "ed")
    assert count == 5
    [(action, target, detail)] = audit_rows(engine)
    assert (action, target) == ("pick.approve_quota", PERIOD) and detail.startswith("5 picks: #")


def test_new_picks_carry_when_they_arrived(engine, drafted):
    assert all(p["created_at"] is not None for p in drafted)
