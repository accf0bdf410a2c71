"""Scores that explain themselves, and drafts that keep editors' work and never repeat a sent item."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from curator import editorial
from curator.curate import Doc, Scorer, TopicTerms, build_draft, explain, stem, total
from curator.curate.draft import ranked
from curator.curate.lexical import BASELINE_PARTS
from curator.errors import IllegalTransition
from curator.sources import load_sources
from curator.store.schema import audit_log, issues, item_scores, items, now
from tests import newsroom

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CAREER = TopicTerms("career", ["career", "job search", "interview"], "Getting hired and paid fairly", ["sponsored"])
LEARNING = TopicTerms("learning", ["learning", "course"], "Study habits and books", weight=1.5)


def doc(id: int, title: str, summary: str = "", days: float = 0, feed: int | None = 1) -> Doc:
    return Doc(id, title, summary, NOW - timedelta(days=days), feed)


def score_all(docs, topics=(CAREER, LEARNING), weights=None, feedback=None, half_life=14.0):
    return Scorer(list(topics)).score(
        docs, now=NOW, half_life_days=half_life, source_weights=weights or {}, feedback=feedback or {}
    )


def by_key(scores):
    return {(s.item_id, s.topic): s for s in scores}


# --- scoring -------------------------------------------------------------------------------


def test_the_parts_add_up_to_the_score():
    docs = [
        doc(1, "Career advice: the interview", "The job search, step by step.", days=3, feed=1),
        doc(2, "A course on learning", "Learning to learn; a career skill.", days=10, feed=2),
        doc(3, "Interviews and careers", "", days=30, feed=None),
    ]
    scores = score_all(docs, weights={1: 1.2, 2: 0.7}, feedback={2: -0.25})
    assert sorted(by_key(scores)) == [(1, "career"), (2, "career"), (2, "learning"), (3, "career")]
    for s in scores:
        assert set(BASELINE_PARTS) <= set(s.parts)
        assert math.isclose(s.score, sum(s.parts[name] for name in BASELINE_PARTS), abs_tol=1e-9)
        assert s.score == total(s.parts)
        assert s.parts["relevance"] > 0 and s.parts["matched"]
    got = by_key(scores)
    assert got[(1, "career")].parts["source_weight"] == 1.2
    assert got[(2, "learning")].parts["feedback"] == -0.25
    assert got[(3, "career")].parts["source_weight"] == 1.0  # no feed: neutral


def test_the_same_data_always_gives_the_same_ranking():
    rng = random.Random(7)
    words = ["career", "interview", "learning", "course", "garden", "job", "search", "salary", "book"]
    docs = [
        doc(i, " ".join(rng.choices(words, k=5)), " ".join(rng.choices(words, k=12)), days=rng.randint(0, 20),
            feed=rng.randint(1, 4))
        for i in range(1, 200)
    ]
    first = ranked(score_all(docs), {"career": 0, "learning": 1})
    shuffled = docs[:]
    rng.shuffle(shuffled)
    second = ranked(score_all(shuffled), {"career": 0, "learning": 1})
    assert [(s.item_id, s.topic, s.score, s.parts) for s in first] == [
        (s.item_id, s.topic, s.score, s.parts) for s in second
    ]
    # Ties are broken by item id, never by chance.
    ties = [doc(10, "career", days=1), doc(5, "career", days=1), doc(7, "career", days=1)]
    assert [s.item_id for s in ranked(score_all(ties), {"career": 0})] == [5, 7, 10]


def test_an_exclusion_keyword_means_no_score_for_that_topic_only():
    scores = by_key(score_all([doc(1, "Sponsored: a career course", "learning")]))
    assert (1, "career") not in scores
    assert (1, "learning") in scores


def test_an_item_needs_a_keyword_description_words_only_add():
    scores = by_key(score_all([
        doc(1, "Getting paid fairly", "hired"),  # description words only
        doc(2, "Career notes", "getting hired and paid fairly"),
        doc(3, "Career notes", "nothing else here at all really"),
    ]))
    assert (1, "career") not in scores
    assert scores[(2, "career")].parts["relevance"] > scores[(3, "career")].parts["relevance"]
    assert scores[(2, "career")].parts["matched"] == ["career"]


def test_title_counts_more_than_summary_and_phrases_must_be_adjacent():
    scores = by_key(score_all([
        doc(1, "The job search", "notes"),
        doc(2, "Notes", "the job search"),
        doc(3, "Search for a job", "notes on a job to search"),
        doc(4, "Notes", "filler"),
    ]))
    assert scores[(1, "career")].parts["relevance"] > scores[(2, "career")].parts["relevance"]
    assert scores[(1, "career")].parts["matched"] == ["job search"]
    assert (3, "career") not in scores


def test_light_stemming_matches_word_forms():
    assert stem("careers") == stem("career")
    assert stem("interviewing") == stem("interviews") == stem("interview")
    assert stem("managed") == stem("manage") == stem("managing")
    scores = by_key(score_all([doc(1, "Interviewing for careers", "courses")]))
    assert scores[(1, "career")].parts["matched"] == ["career", "interview"]
    assert scores[(1, "learning")].parts["matched"] == ["course"]


def test_freshness_halves_every_half_life_and_topic_weight_scales_relevance():
    scores = by_key(score_all([doc(1, "career", days=0), doc(2, "career", days=14), doc(3, "career", days=28)]))
    assert [scores[(i, "career")].parts["freshness"] for i in (1, 2, 3)] == [1.0, 0.5, 0.25]
    heavy = TopicTerms("career", ["career"], weight=2.0)
    light = TopicTerms("career", ["career"], weight=1.0)
    one = score_all([doc(1, "career")], topics=[heavy])[0].parts["relevance"]
    two = score_all([doc(1, "career")], topics=[light])[0].parts["relevance"]
    assert math.isclose(one, 2 * two, abs_tol=0.002)


def test_explain_reads_like_a_sentence():
    parts = {"relevance": 3.456, "matched": ["career", "interview"], "source_weight": 1.2, "freshness": 0.8,
             "feedback": 0.1}
    assert explain(parts) == (
        "matched: career, interview · relevance 3.46 · source weight 1.2 · freshness 0.8 · editors +0.1"
    )
    assert explain({**parts, "feedback": -0.25}).endswith("editors -0.25")
    assert explain({"manual": True, "added_by": "ed@example.org"}) == "added by hand by ed@example.org"


# --- the draft -----------------------------------------------------------------------------


@pytest.fixture
def newsroom_settings(settings, tmp_path):
    # These tests are about the draft's mechanics on one-line items; the score floor that keeps junk out of a
    # thin month (min_pick_score) is tested on real-looking pages in tests/curate/test_draft_quality.py.
    return settings.model_copy(update={"feeds": newsroom.write_feeds_yaml(tmp_path), "min_pick_score": -100.0})


@pytest.fixture
def sources(newsroom_settings):
    return load_sources(newsroom_settings.feeds)


def draft(engine, settings, sources, period="2026-12", at=NOW):
    return build_draft(engine, settings, sources, period, actor="test", now=at)


def picks_of(engine, period="2026-12"):
    with engine.connect() as conn:
        return editorial.list_picks(conn, period)


def test_draft_picks_the_best_per_topic_within_quota_spares_and_diversity(engine, newsroom_settings, sources):
    ids = newsroom.seed(engine, NOW)
    result = draft(engine, newsroom_settings, sources)
    rows = picks_of(engine)
    assert result.scored_items == len(newsroom.ITEMS)
    assert result.added == len(rows) > 0
    assert {r["decision"] for r in rows} == {"suggested"}
    items_seen = [r["item"] for r in rows]
    assert len(items_seen) == len(set(items_seen)), "an item sits under one topic only"
    assert ids["Sponsored: the best career bootcamp"] not in items_seen  # excluded word
    assert ids["Gardening tips for the weekend"] not in items_seen  # no keyword
    for topic in sources.topics:
        mine = [r for r in rows if r["topic"] == topic.name]
        assert len(mine) <= topic.quota + newsroom_settings.spare_picks
        assert [r["rank"] for r in mine] == list(range(1, len(mine) + 1))
        assert [r["score"] for r in mine] == sorted((r["score"] for r in mine), reverse=True)
        per_source: dict = {}
        for r in mine:
            per_source[r["source"]] = per_source.get(r["source"], 0) + 1
        assert max(per_source.values()) <= newsroom_settings.per_source_limit
    with engine.connect() as conn:
        stored = conn.execute(select(item_scores)).mappings().all()
    assert stored and all(row["score"] == total(row["parts"]) for row in stored)
    by_pair = {(row["item_id"], row["topic"]): (row["score"], row["parts"]) for row in stored}
    # The numbers travel with the pick; the pick also keeps them in words (and any "also covered by").
    numbers = [{k: v for k, v in r["parts"].items() if k not in ("words", "also_covered_by")} for r in rows]
    assert all(by_pair[(r["item"], r["topic"])] == (r["score"], n) for r, n in zip(rows, numbers, strict=True))
    assert all(r["parts"]["words"] for r in rows)


def test_near_duplicates_collapse_into_one_candidate(engine, newsroom_settings, sources):
    rows = [(0, "How to prepare for a job interview", "Interview and job search tips.", 1),
            (1, "How to Prepare for a Job Interview!", "Interview and job search tips, again.", 1)]
    newsroom.seed(engine, NOW, rows=rows)
    draft(engine, newsroom_settings, sources)
    assert len(picks_of(engine)) == 1


def test_running_the_draft_again_keeps_decisions_and_only_adds_new_candidates(engine, newsroom_settings, sources):
    newsroom.seed(engine, NOW)
    draft(engine, newsroom_settings, sources)
    first = picks_of(engine)
    career = [r for r in first if r["topic"] == "career"]
    with engine.begin() as conn:
        editorial.decide_pick(conn, career[0]["id"], "approved", "ed")
        editorial.move_pick(conn, career[1]["id"], "up", "ed")
        editorial.set_blurb(conn, career[1]["id"], "Read this first.", "ed")
    before = {r["id"]: (r["decision"], r["rank"], r["blurb"], r["score"]) for r in picks_of(engine)}

    again = draft(engine, newsroom_settings, sources, at=NOW + timedelta(hours=1))
    assert again.added == 0
    assert {r["id"]: (r["decision"], r["rank"], r["blurb"], r["score"]) for r in picks_of(engine)} == before

    newsroom.seed(engine, NOW, rows=[(2, "A leadership book for new managers", "Leadership and feedback.", 0)],
                  prefix="new ")
    third = draft(engine, newsroom_settings, sources, at=NOW + timedelta(hours=2))
    after = picks_of(engine)
    assert third.added == 1
    assert {r["id"]: (r["decision"], r["rank"], r["blurb"], r["score"]) for r in after if r["id"] in before} == before
    new = [r for r in after if r["id"] not in before]
    assert len(new) == 1 and new[0]["decision"] == "suggested"
    assert new[0]["rank"] > max(r["rank"] for r in after if r["topic"] == new[0]["topic"] and r["id"] in before)


def test_rejecting_a_candidate_makes_room_for_another(engine, newsroom_settings, sources):
    newsroom.seed(engine, NOW)
    settings = newsroom_settings.model_copy(update={"spare_picks": 0})
    draft(engine, settings, sources)
    leadership = [r for r in picks_of(engine) if r["topic"] == "leadership"]
    assert len(leadership) == 1  # quota 1, no spares
    with engine.begin() as conn:
        editorial.decide_pick(conn, leadership[0]["id"], "rejected", "ed")
    assert draft(engine, settings, sources).added == 1
    rows = [r for r in picks_of(engine) if r["topic"] == "leadership"]
    assert [r["decision"] for r in rows] == ["rejected", "suggested"]


def test_nothing_an_earlier_issue_sent_is_picked_again(engine, newsroom_settings, sources):
    start = now()  # the send below stamps the real clock, so this test runs on it too
    newsroom.seed(engine, start - timedelta(days=3))
    draft(engine, newsroom_settings, sources, period="2026-11", at=start - timedelta(days=2))
    sent_items = {r["item"] for r in picks_of(engine, "2026-11")}
    with engine.begin() as conn:
        editorial.approve_all(conn, "2026-11", {t.name: 99 for t in sources.topics}, "ed")
        for status in ("approved", "sending", "sent"):
            editorial.transition(conn, "2026-11", status, "ops")
        sent_at = conn.execute(select(issues.c.sent_at).where(issues.c.period == "2026-11")).scalar_one()
    # After the send: the same story again from another feed, and a fresh one.
    later = now() + timedelta(seconds=1)
    newsroom.seed(engine, later, prefix="again ", rows=[
        (1, "How to prepare for a job interview", "Interview questions and the job search.", 0),
        (0, "Salary bands explained for your career", "Salary and promotion, explained.", 0),
    ])
    result = draft(engine, newsroom_settings, sources, period="2026-12", at=later)
    december = picks_of(engine, "2026-12")
    assert result.since == sent_at  # the window starts at the last send
    assert result.scored_items == 2
    assert not sent_items & {r["item"] for r in december}
    assert [r["title"] for r in december] == ["Salary bands explained for your career"]  # not the near-duplicate


def test_approved_picks_of_another_live_issue_are_not_repeated(engine, newsroom_settings, sources):
    newsroom.seed(engine, NOW)
    draft(engine, newsroom_settings, sources, period="2026-11")
    with engine.begin() as conn:
        approved = editorial.approve_all(conn, "2026-11", {t.name: 99 for t in sources.topics}, "ed")
    draft(engine, newsroom_settings, sources, period="2026-12")
    november = {r["item"] for r in picks_of(engine, "2026-11") if r["decision"] == "approved"}
    assert approved == len(november) > 0
    assert not november & {r["item"] for r in picks_of(engine, "2026-12")}


def test_a_recurring_title_sent_long_ago_does_not_block_a_new_item(engine, newsroom_settings, sources):
    old = [(0, "Career links of the week", "Interview and salary links.", 100)]
    newsroom.seed(engine, NOW, rows=old)
    draft(engine, newsroom_settings, sources, period="2026-08", at=NOW - timedelta(days=99))
    with engine.begin() as conn:
        assert editorial.approve_all(conn, "2026-08", {"career": 1}, "ed") == 1
    newsroom.seed(engine, NOW, rows=[(0, "Career links of the week", "Promotion and salary links.", 1)],
                  prefix="new ")
    draft(engine, newsroom_settings, sources)
    assert [r["title"] for r in picks_of(engine)] == ["Career links of the week"]


def test_a_draft_is_refused_once_the_issue_is_approved(engine, newsroom_settings, sources):
    newsroom.seed(engine, NOW)
    draft(engine, newsroom_settings, sources)
    with engine.begin() as conn:
        editorial.approve_all(conn, "2026-12", {"career": 1}, "ed")
        editorial.transition(conn, "2026-12", "approved", "ed")
    with pytest.raises(IllegalTransition, match="2026-12 is approved.*reopen it"):
        draft(engine, newsroom_settings, sources)


def test_editors_decisions_move_a_sources_reputation(engine, newsroom_settings, sources):
    newsroom.seed(engine, NOW)
    draft(engine, newsroom_settings, sources, period="2026-11")
    rows = picks_of(engine, "2026-11")
    with engine.begin() as conn:
        for r in rows:
            decision = "approved" if r["source"] == "Careers Weekly" else "rejected"
            editorial.decide_pick(conn, r["id"], decision, "ed")
    draft(engine, newsroom_settings, sources, period="2026-12")
    with engine.connect() as conn:
        stored = conn.execute(
            select(item_scores.c.parts, items.c.feed_id).join(items, items.c.id == item_scores.c.item_id)
        ).all()
    reputation = {feed: parts["reputation"] for parts, feed in stored}
    assert reputation[1] > 0 > reputation[3]


def test_the_draft_is_audited(engine, newsroom_settings, sources):
    newsroom.seed(engine, NOW)
    draft(engine, newsroom_settings, sources)
    with engine.connect() as conn:
        actions = conn.execute(select(audit_log.c.action, audit_log.c.target)).all()
    assert ("issue.create", "2026-12") in actions and ("issue.draft", "2026-12") in actions


def test_items_added_by_hand_are_not_candidates(engine, newsroom_settings, sources):
    newsroom.seed(engine, NOW)
    with engine.begin() as conn:
        conn.execute(update(items).values(manual=True))
    result = draft(engine, newsroom_settings, sources)
    assert result.scored_items == 0 and result.added == 0
