"""The editors' taste per topic: where editors put items (approved, rejected, moved) teaches where items belong."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select

from curator import editorial, embed, pick_edits
from curator.curate import build_draft, draft, topic_fit
from curator.sources import load_sources
from curator.store.schema import item_scores, now
from tests import newsroom

# --- the topic fit on its own -----------------------------------------------------------


def _vectors(*texts: str) -> np.ndarray:
    return embed.embed(list(texts))


def test_a_moved_pick_is_wrong_for_its_old_topic_and_right_for_its_new_one():
    v = _vectors("x")[0]
    moved = topic_fit.placements_of(v, "T", "career", "suggested", 1.0, ["learning"])
    assert [(p.topic, p.label, p.weight, p.how) for p in moved] == [
        ("learning", -1.0, topic_fit.MOVED, "moved_out"), ("career", 1.0, topic_fit.MOVED, "moved_in")]
    # Moved, then rejected where it went: not right there either.
    rejected = topic_fit.placements_of(v, "T", "career", "rejected", 1.0, ["learning"])
    assert [(p.topic, p.label, p.how) for p in rejected] == [("learning", -1.0, "moved_out"),
                                                            ("career", -1.0, "rejected")]
    # Not moved: the decision where the draft put it; a suggestion teaches nothing yet.
    assert [(p.topic, p.label, p.how) for p in topic_fit.placements_of(v, "T", "career", "approved", 3.0, [])] == [
        ("career", 1.0, "approved")]
    assert topic_fit.placements_of(v, "T", "career", "suggested", 1.0, []) == []


def test_the_fit_follows_close_placements_smoothed_by_the_prior_and_says_why():
    moved = ["A study plan for the coding interview", "Mock interview practice with a weekly tutorial"]
    similar, unrelated = "A tutorial and study plan for your next coding interview", "Tomatoes and roses in the garden"
    vectors = _vectors(*moved, similar, unrelated)
    placed = [p for v, title in zip(vectors[:2], moved, strict=True)
              for p in topic_fit.placements_of(v, title, "career", "suggested", 1.0, ["learning"])]
    topics = ["career", "learning", "leadership"]
    one = topic_fit.fit(vectors[2:] @ np.stack([p.vector for p in placed[:2]]).T, placed[:2], topics)
    two = topic_fit.fit(vectors[2:] @ np.stack([p.vector for p in placed]).T, placed, topics)
    career, learning, leadership = two.values[0]
    assert career > 0 > learning and leadership == 0.0
    assert one.values[0][0] < career < topic_fit.SCALE  # a second move counts more; never full confidence
    assert list(two.values[1]) == [0.0, 0.0, 0.0]  # like none of them: no opinion
    assert topic_fit.words(career, two.near[0], placed, "career", "Career").startswith(
        "like 2 picks you moved to Career: “")
    assert topic_fit.words(learning, two.near[0], placed, "learning", "Learning").startswith(
        "like 2 picks you moved out of Learning: “")


# --- month A's moves in month B's draft ---------------------------------------------------

# Interview preparation that reads as Learning (tutorial, course, book) and as Career (interview).
MONTH_A = [
    (1, "Tutorial: a learning plan and a book for the coding interview",
     "A course-style tutorial on learning the material: one book chapter and interview questions a week.", 1),
    (2, "Mock interview practice: a tutorial and a weekly course",
     "Learning to answer interview questions out loud: a course and a book of worked examples.", 2),
]
MONTH_B = [(0, "A tutorial and a learning plan for your next coding interview",
            "Learning for the interview: a weekly course and a book of practice questions.", 1)]
PERIOD_A, PERIOD_B = "2026-11", "2026-12"


def _taste_of(engine, conf, sources, item_id: int) -> dict[str, tuple[float, str]]:
    """The item's taste part and its words per topic, as the draft that just ran scored and stored them."""
    with engine.connect() as conn:
        stored = dict(conn.execute(
            select(item_scores.c.topic, item_scores.c.parts).where(item_scores.c.item_id == item_id)).all())
        docs = [doc for doc in draft.load_docs(conn, now() - timedelta(days=conf.draft_window_days))
                if doc.id == item_id]
        scores = draft.score_docs(conn, sources, conf, docs, now())
    assert {s.topic: s.parts["taste"] for s in scores} == {t: parts["taste"] for t, parts in stored.items()}
    return {s.topic: (s.parts["taste"], s.words["taste"]) for s in scores}


@pytest.fixture
def newsroom_conf(settings, tmp_path):
    return settings.model_copy(update={"feeds": newsroom.write_feeds_yaml(tmp_path), "min_pick_score": -100.0,
                                       "draft_window_days": 30})


def test_picks_moved_in_month_a_move_a_similar_item_in_month_b(engine, newsroom_conf):
    conf, sources = newsroom_conf, load_sources(newsroom_conf.feeds)
    title = {t.name: t.title for t in sources.topics}
    # Month A (five weeks ago, outside month B's window): the newsroom's usual items and two on interview
    # preparation, drafted and decided.
    start = now() - timedelta(days=35)
    newsroom.seed(engine, at=start)
    ids_a = newsroom.seed(engine, at=start, rows=MONTH_A, prefix="a-")
    build_draft(engine, conf, sources, PERIOD_A, actor="test", now=start + timedelta(days=3))
    with engine.begin() as conn:
        drafted = editorial.list_picks(conn, PERIOD_A)
        prep = [p for p in drafted if p["item"] in ids_a.values()]
        others = [p for p in drafted if p["item"] not in ids_a.values()]
        assert [p["topic"] for p in prep] == ["learning", "learning"], [(p["title"], p["topic"]) for p in drafted]
        for n, pick in enumerate(others[:6]):
            editorial.decide_pick(conn, pick["id"], "approved" if n % 2 == 0 else "rejected", "ed@example.org")
    old, new = "learning", "career"

    # Month B, before the moves: the similar item's taste part per topic, from month A's decisions alone.
    ids_b = newsroom.seed(engine, rows=MONTH_B, prefix="b-")
    item = ids_b[MONTH_B[0][1]]
    build_draft(engine, conf, sources, PERIOD_B, actor="test")
    before = _taste_of(engine, conf, sources, item)
    assert {old, new} <= set(before), before

    # The editors move month A's two picks from `old` to `new`; month B's draft is refreshed.
    with engine.begin() as conn:
        for pick in prep:
            assert pick_edits.edit_pick(conn, pick["id"], "ed@example.org", known_topics=sources.topic_names,
                                        topic=new) == ["topic"]
    build_draft(engine, conf, sources, PERIOD_B, actor="test")
    after = _taste_of(engine, conf, sources, item)
    assert after[new][0] > before[new][0] and after[old][0] < before[old][0], (before, after)
    assert after[new][1].startswith(f"like 2 picks you moved to {title[new]}: “")
    assert after[old][1].startswith(f"like 2 picks you moved out of {title[old]}: “")
    assert MONTH_A[0][1] in after[new][1] and "taste model v" in after[new][1]
    # Topics nobody moved anything into or out of keep the item's own value.
    for topic in set(after) - {old, new}:
        assert after[topic][0] == before[topic][0]
