"""The issue's life (every legal and illegal move, audited), editors' edits, and the editorial CLI."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from curator import editorial
from curator.curate import ADDITIVE
from curator.errors import CuratorError, IllegalTransition, NotFound
from curator.store.schema import ISSUE_STATUSES, audit_log, issues, items, now
from tests import newsroom

PERIOD = "2026-12"
LEGAL = {
    ("draft", "in_review"), ("draft", "approved"), ("draft", "cancelled"),
    ("in_review", "draft"), ("in_review", "approved"), ("in_review", "cancelled"),
    ("approved", "in_review"), ("approved", "sending"), ("approved", "cancelled"),
    ("sending", "paused"), ("sending", "sent"), ("sending", "cancelled"),
    ("paused", "sending"), ("paused", "cancelled"),
}
TOPICS = [("career", "Career"), ("learning", "Learning"), ("leadership", "Leadership")]


def force_status(engine, status: str) -> None:
    """Put the issue in `status` directly, as a fixture: transition() is what is under test."""
    with engine.begin() as conn:
        editorial.ensure_issue(conn, PERIOD, "test")
        conn.execute(update(issues).where(issues.c.period == PERIOD).values(status=status))


def audit_rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            select(audit_log.c.actor, audit_log.c.action, audit_log.c.target, audit_log.c.detail)
            .order_by(audit_log.c.id)
        ).all()


@pytest.mark.parametrize("start", ISSUE_STATUSES)
def test_every_move_from_each_status(engine, start):
    for to in ISSUE_STATUSES:
        force_status(engine, start)
        before = len(audit_rows(engine))
        with engine.begin() as conn:
            if (start, to) in LEGAL:
                issue = editorial.transition(conn, PERIOD, to, "ed@example.org", reason="because")
                assert issue["status"] == to
            else:
                with pytest.raises(IllegalTransition, match=f"issue {PERIOD} is {start}; it cannot become {to}"):
                    editorial.transition(conn, PERIOD, to, "ed@example.org")
                assert editorial.get_issue(conn, PERIOD)["status"] == start
        rows = audit_rows(engine)
        if (start, to) in LEGAL:
            assert rows[before:] == [("ed@example.org", f"issue.{to}", PERIOD, f"{start} -> {to}: because")]
        else:
            assert len(rows) == before


def test_sent_and_cancelled_are_final_and_say_so(engine):
    force_status(engine, "sent")
    with pytest.raises(IllegalTransition, match="nothing: it is final"), engine.begin() as conn:
        editorial.transition(conn, PERIOD, "sending", "ops")


def test_moves_stamp_who_approved_and_when_it_was_sent(engine):
    force_status(engine, "draft")
    with engine.begin() as conn:
        approved = editorial.transition(conn, PERIOD, "approved", "ed@example.org")
        editorial.transition(conn, PERIOD, "sending", "ops@example.org")
        sent = editorial.transition(conn, PERIOD, "sent", "ops@example.org")
    assert approved["approved_by"] == "ed@example.org" and approved["approved_at"] is not None
    assert sent["send_started_at"] is not None and sent["sent_at"] >= sent["send_started_at"]


def test_unknown_status_and_unknown_issue_are_refused(engine):
    force_status(engine, "draft")
    with engine.begin() as conn:
        with pytest.raises(IllegalTransition, match="'shipped' is not an issue status"):
            editorial.transition(conn, PERIOD, "shipped", "ed")
        with pytest.raises(NotFound, match="curator draft 2030-01"):
            editorial.transition(conn, "2030-01", "approved", "ed")


# --- editors' edits ----------------------------------------------------------------------------


@pytest.fixture
def drafted(engine, settings, tmp_path):
    """An issue with candidates, built by the real draft."""
    from curator.curate import build_draft
    from curator.sources import load_sources

    newsroom.seed(engine)
    # One-line newsroom items: the score floor (min_pick_score) would leave too few picks to edit.
    conf = settings.model_copy(update={"feeds": newsroom.write_feeds_yaml(tmp_path), "min_pick_score": -100.0})
    build_draft(engine, conf, load_sources(conf.feeds), PERIOD, actor="test")
    with engine.connect() as conn:
        return editorial.list_picks(conn, PERIOD)


def _edits(pick_id: int):
    return {
        "decide": lambda conn: editorial.decide_pick(conn, pick_id, "approved", "ed"),
        "move": lambda conn: editorial.move_pick(conn, pick_id, "down", "ed"),
        "blurb": lambda conn: editorial.set_blurb(conn, pick_id, "Worth it.", "ed"),
        "text": lambda conn: editorial.edit_issue(conn, PERIOD, "ed", subject="S", preheader="P", intro="I"),
        "link": lambda conn: editorial.add_link(
            conn, PERIOD, url="https://new.example/a", title="A", summary="", topic="career", actor="ed"
        ),
    }


@pytest.mark.parametrize("status", [s for s in ISSUE_STATUSES if s not in ("draft", "in_review")])
def test_edits_are_refused_unless_draft_or_in_review(engine, drafted, status):
    with engine.begin() as conn:
        conn.execute(update(issues).values(status=status))
    for name, edit in _edits(drafted[0]["id"]).items():
        with pytest.raises(IllegalTransition, match=f"issue {PERIOD} is {status}: picks and text change only"), \
                engine.begin() as conn:
            edit(conn)
        assert name
    with engine.connect() as conn:
        assert editorial.list_picks(conn, PERIOD) == drafted


@pytest.mark.parametrize("status", ["draft", "in_review"])
def test_edits_are_allowed_in_draft_and_review(engine, drafted, status):
    with engine.begin() as conn:
        conn.execute(update(issues).values(status=status))
        for edit in _edits(drafted[0]["id"]).values():
            edit(conn)
        issue = editorial.get_issue(conn, PERIOD)
        picks = {p["id"]: p for p in editorial.list_picks(conn, PERIOD)}
    assert (issue["subject"], issue["preheader"], issue["intro"]) == ("S", "P", "I")
    assert picks[drafted[0]["id"]]["decision"] == "approved"
    assert picks[drafted[0]["id"]]["blurb"] == "Worth it."
    actions = [row[1] for row in audit_rows(engine)]
    for action in ("pick.approved", "pick.move_down", "pick.blurb", "issue.edit", "pick.add"):
        assert action in actions


def test_moving_swaps_neighbours_skipping_rejected_picks(engine, drafted):
    career = [p for p in drafted if p["topic"] == "career"]
    assert len(career) == 3
    a, b, c = (p["id"] for p in career)
    with engine.begin() as conn:
        editorial.decide_pick(conn, b, "rejected", "ed")
        assert editorial.move_pick(conn, a, "down", "ed") is True  # over the rejected b: [c, a]
        assert editorial.move_pick(conn, a, "down", "ed") is False  # already last
        assert editorial.move_pick(conn, c, "up", "ed") is False  # already first
        assert editorial.move_pick(conn, a, "up", "ed") is True  # [a, c]
        assert editorial.move_pick(conn, c, "up", "ed") is True  # [c, a]
        with pytest.raises(CuratorError, match="rejected: approve it or return it"):
            editorial.move_pick(conn, b, "up", "ed")
        with pytest.raises(CuratorError, match="not a direction"):
            editorial.move_pick(conn, a, "sideways", "ed")
        order = [p["id"] for p in editorial.list_picks(conn, PERIOD) if p["topic"] == "career"]
        ranks = [p["rank"] for p in editorial.list_picks(conn, PERIOD) if p["topic"] == "career"]
    assert order[0] == c and order.index(a) > order.index(c)
    assert len(set(ranks)) == len(ranks)


def test_a_link_added_by_hand_becomes_a_manual_approved_pick(engine, drafted):
    with engine.begin() as conn:
        pick = editorial.add_link(
            conn, PERIOD, url=" https://blog.example/post#comments ", title="  A  good   post ",
            summary="<b>Bold</b> claims", topic="leadership", actor="ed@example.org",
        )
        item = conn.execute(select(items).where(items.c.id == pick["item"])).mappings().one()
        with pytest.raises(CuratorError, match="already in issue 2026-12"):
            editorial.add_link(conn, PERIOD, url="https://blog.example/post", title="Again", summary="",
                               topic="career", actor="ed")
        with pytest.raises(CuratorError, match="not a web address"):
            editorial.add_link(conn, PERIOD, url="javascript:alert(1)", title="x", summary="", topic="career",
                               actor="ed")
        with pytest.raises(CuratorError, match="needs a title"):
            editorial.add_link(conn, PERIOD, url="https://x.example/t", title=" ", summary="", topic="career",
                               actor="ed")
    assert (pick["decision"], pick["topic"], pick["title"], pick["manual"]) == ("approved", "leadership",
                                                                                "A good post", True)
    assert item["canonical_url"] == "https://blog.example/post" and item["manual"] is True
    assert item["summary_html"] == "<p>&lt;b&gt;Bold&lt;/b&gt; claims</p>"
    assert pick["rank"] == max(p["rank"] for p in drafted if p["topic"] == "leadership") + 1
    assert pick["parts"] == {"manual": True, "added_by": "ed@example.org"}


def test_approving_needs_an_approved_pick_and_warns_about_empty_topics(engine, drafted):
    with engine.begin() as conn, pytest.raises(CuratorError, match="has no approved picks"):
        editorial.approve_issue(conn, PERIOD, "ed", TOPICS)
    with engine.begin() as conn:
        assert editorial.approve_all(conn, PERIOD, {"career": 1}, "ed") == 1
        warnings = editorial.approve_issue(conn, PERIOD, "ed@example.org", TOPICS)
        issue = editorial.get_issue(conn, PERIOD)
    assert warnings == [
        "Learning (learning) has no approved picks: its section will be missing",
        "Leadership (leadership) has no approved picks: its section will be missing",
    ]
    assert issue["status"] == "approved" and issue["approved_by"] == "ed@example.org"
    assert audit_rows(engine)[-1][1:3] == ("issue.approved", PERIOD)


def test_approve_all_takes_the_first_quota_of_each_topic_rejected_aside(engine, drafted):
    career = [p for p in drafted if p["topic"] == "career"]
    with engine.begin() as conn:
        editorial.decide_pick(conn, career[0]["id"], "rejected", "ed")
        assert editorial.approve_all(conn, PERIOD, {"career": 2, "learning": 0, "leadership": 1}, "ed") == 3
        decisions = {p["id"]: p["decision"] for p in editorial.list_picks(conn, PERIOD)}
    assert [decisions[p["id"]] for p in career[:3]] == ["rejected", "approved", "approved"]
    assert all(decisions[p["id"]] == "suggested" for p in career[3:])
    assert all(decisions[p["id"]] == "suggested" for p in drafted if p["topic"] == "learning")


def test_the_audit_log_names_only_the_fields_an_edit_changed(engine):
    force_status(engine, "draft")
    subject = editorial.default_subject(PERIOD)  # what ensure_issue gave it
    before = len(audit_rows(engine))

    def edit(**fields):
        values = {"subject": subject, "preheader": "", "intro": ""} | fields
        with engine.begin() as conn:
            editorial.edit_issue(conn, PERIOD, "ed", **values)
        return [row[3] for row in audit_rows(engine)[before:] if row[1] == "issue.edit"]

    assert edit(preheader="Five reads") == ["preheader: Five reads"]
    assert edit(preheader="Five reads", intro="Hello.\n\nWelcome.")[-1] == "intro: Hello.\n\nWelcome."
    assert len(edit(preheader="Five reads", intro="Hello.\n\nWelcome.")) == 2  # nothing changed: no entry
    assert edit(subject="December picks", preheader="Five reads", intro="Hello.\n\nWelcome.")[-1] == (
        "subject: December picks")
    assert edit(subject="December", preheader="", intro="Hello.\n\nWelcome.")[-1] == "subject: December; preheader: "


def test_approving_with_nothing_approved_points_to_the_step_that_helps(engine, drafted):
    with engine.begin() as conn:
        for pick in drafted:
            editorial.decide_pick(conn, pick["id"], "rejected", "ed")
    with engine.begin() as conn, pytest.raises(CuratorError, match="only rejected ones") as refused:
        editorial.approve_issue(conn, PERIOD, "ed", TOPICS)
    assert "curator pick approve ID" in str(refused.value) and "--all" not in str(refused.value)


def test_blurbs_and_subjects_are_checked(engine, drafted):
    with engine.begin() as conn:
        with pytest.raises(CuratorError, match="the subject cannot be empty"):
            editorial.edit_issue(conn, PERIOD, "ed", subject="  ", preheader="", intro="")
        with pytest.raises(CuratorError, match="keep it under 2,000"):
            editorial.set_blurb(conn, drafted[0]["id"], "x" * 2001, "ed")
        with pytest.raises(NotFound, match="there is no pick #999999"):
            editorial.decide_pick(conn, 999999, "approved", "ed")
        with pytest.raises(CuratorError, match="not a decision"):
            editorial.decide_pick(conn, drafted[0]["id"], "maybe", "ed")


# --- the command line ------------------------------------------------------------------------------


@pytest.fixture
def cli(settings, tmp_path, engine):
    from curator.cli import app as cli_app
    from curator.cli._app import state

    feeds = newsroom.write_feeds_yaml(tmp_path)
    newsroom.seed(engine)
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        try:
            return runner.invoke(
                cli_app, ["--database-url", settings.database_url, "--feeds", str(feeds), *args], input=input
            )
        finally:
            if state._engine is not None:
                state._engine.dispose()

    return run


def test_cli_draft_picks_approve(cli, engine):
    result = cli("draft", PERIOD)
    assert result.exit_code == 0, result.output
    assert "Draft 2026-12" in result.output and "career" in result.output
    listed = cli("picks", PERIOD, "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout.strip().splitlines()[-1])
    assert rows and set(rows[0]) == {"id", "item", "title", "url", "topic", "rank", "score", "parts", "decision",
                                      "blurb", "kind"}
    # Issue 9: the parts are lexical, semantic, kind, taste, reputation, source weight and freshness, with words.
    assert all(set(r["parts"]) >= {*ADDITIVE, "matched", "words"} for r in rows)
    assert all(r["kind"] == r["parts"]["page_kind"] for r in rows)
    table = cli("picks", PERIOD)
    assert table.exit_code == 0 and "matched:" in table.output

    again = cli("draft", PERIOD)
    assert again.exit_code == 0 and "added 0 candidates" in again.output

    first = rows[0]["id"]
    assert cli("pick", "reject", str(first)).exit_code == 0
    assert cli("pick", "approve", str(first)).exit_code == 0
    approved = cli("approve", PERIOD, "--all")
    assert approved.exit_code == 0, approved.output
    assert "Issue 2026-12 is approved" in approved.output
    with engine.connect() as conn:
        assert editorial.get_issue(conn, PERIOD)["status"] == "approved"
        decisions = [p["decision"] for p in editorial.list_picks(conn, PERIOD)]
    assert decisions.count("approved") >= 3  # quota 2 + 2 (the first one may be beyond quota) + 1 - overlaps

    refused = cli("pick", "reject", str(first))
    assert isinstance(refused.exception, IllegalTransition)


def test_cli_moves_a_pick_to_another_topic_and_the_audit_log_says_so(cli, engine):
    assert cli("draft", PERIOD).exit_code == 0
    with engine.connect() as conn:
        first = next(p for p in editorial.list_picks(conn, PERIOD) if p["topic"] == "learning")
    moved = cli("pick", "move", str(first["id"]), "career")
    assert moved.exit_code == 0, moved.output
    assert f"Pick #{first['id']} ({first['title']}) is now in career." in moved.output
    again = cli("pick", "move", str(first["id"]), "career")
    assert again.exit_code == 0 and "is already in career" in again.output
    refused = cli("pick", "move", str(first["id"]), "gardening")
    assert refused.exit_code != 0 and "'gardening' is not a topic of feeds.yaml" in str(refused.exception)
    with engine.connect() as conn:
        assert editorial.get_pick(conn, first["id"])["topic"] == "career"
        entries = conn.execute(
            select(audit_log.c.action, audit_log.c.detail).where(audit_log.c.action == "pick.edit.topic")
        ).all()
    assert [tuple(e) for e in entries] == [("pick.edit.topic", "learning -> career")]


def test_cli_approve_warns_about_topics_without_picks(cli, engine):
    assert cli("draft", PERIOD).exit_code == 0
    with engine.connect() as conn:
        first = next(p for p in editorial.list_picks(conn, PERIOD) if p["topic"] == "career")
    assert cli("pick", "approve", str(first["id"])).exit_code == 0
    result = cli("approve", PERIOD)
    assert result.exit_code == 0, result.output
    assert "warning: Learning (learning) has no approved picks" in " ".join(result.output.split())


def test_cli_approve_all_on_an_issue_without_picks_says_to_draft_or_ingest(cli, engine):
    with engine.begin() as conn:
        editorial.ensure_issue(conn, PERIOD, "test")
    result = cli("approve", PERIOD, "--all")
    message = str(result.exception)
    assert isinstance(result.exception, CuratorError) and "has no picks at all" in message
    assert f"`curator draft {PERIOD}`" in message and "`curator ingest`" in message
    assert "--all" not in message  # never the command that was just run
    with engine.connect() as conn:
        assert editorial.get_issue(conn, PERIOD)["status"] == "draft"


def test_cli_refuses_bad_periods_and_missing_issues(cli):
    assert "not of the form YYYY-MM" in str(cli("picks", "2026-13").exception)
    assert "run `curator draft 2031-01` first" in str(cli("approve", "2031-01").exception)


def test_cli_draft_defaults_to_the_coming_month(cli, engine):
    result = cli("draft")
    assert result.exit_code == 0, result.output
    expected = editorial.coming_period(now())
    with engine.connect() as conn:
        assert editorial.get_issue(conn, expected)["status"] == "draft"
