"""Readers teach the ranking: a month is sent, people and scanners click, and the next month's draft follows people.

Month 1 is drafted, approved and sent to 50 readers through the SendGrid-compatible test
server. People click source X's picks through the redirect an hour after delivery, and five
click one of Y's; a mail gateway with a browser's user agent clicks every link of ten messages
within a second, and another, with a scanner's user agent, opens Y's links in thirty; readers
answer "more" or "less like this" by POST (a GET changes nothing). Month 2 holds two stories
that both sources published word for word, so that everything but the source is equal: before
the clicks Y's copies lead (its feed weighs 1.05 against X's 1.0), after them X's do, and the
readers part says why with the exact figures.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from curator import deliver, editorial
from curator.curate import build_draft, explain, readers
from curator.curate.draft import load_docs, ranked, score_docs
from curator.engagement import clicks as click_module
from curator.engagement import figures
from curator.sources import load_sources
from curator.store.schema import clicks, deliveries, feedback, feeds, item_scores, items, now
from curator.web.app import create_app
from tests.deliver.helpers import add_audience
from tests.engagement.conftest import HUMAN_AGENT, SCANNER_AGENT, age_deliveries, copies
from tests.engagement.test_report import link

MONTH1, MONTH2 = "2026-11", "2026-12"
READERS = 50
FEEDS_YAML = """\
topics:
  - name: career
    title: Career
    description: Getting hired, growing in a role, being paid fairly.
    keywords: [career, interview, salary, promotion, negotiation]
    quota: 4
feeds:
  - url: https://x.example/feed
    title: Source X
  - url: https://y.example/feed
    title: Source Y
    weight: 1.05
"""
MONTH1_ITEMS = {
    "x": [("Preparing for a job interview", "Common interview questions and how to answer them well."),
          ("Asking for a promotion at work", "How to make the case for a promotion with your manager.")],
    "y": [("Changing career at forty", "A career change plan, from first interview to first salary."),
          ("How to negotiate a salary offer", "A step by step guide to the salary negotiation with a recruiter.")],
}  # fmt: skip
# Published by both sources word for word in month 2: only the source differs.
STORIES = [
    ("Getting ready for your next interview", "How to prepare answers for the questions interviewers ask."),
    ("Making the case for your promotion", "A guide to the promotion conversation with your manager."),
]
# What people did with month 1, by construction below; every figure is checked against these.
X_COUNTS = {"delivered": 2 * READERS, "clicks": 30 + 10, "more": 3, "less": 0}
Y_COUNTS = {"delivered": 2 * READERS, "clicks": 5, "more": 0, "less": 1}


@pytest.fixture
def conf(sg_settings, tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS_YAML, encoding="utf-8")
    # One-line items: the score floor that keeps junk out of a thin month is not what this test is about.
    return sg_settings.model_copy(update={"feeds": path, "min_pick_score": -100.0})


@pytest.fixture
def web(conf, engine):
    with TestClient(create_app(conf, engine), base_url=conf.base_url, follow_redirects=False) as client:
        yield client


def _feeds(engine) -> dict[str, int]:
    with engine.begin() as conn:
        for url, title, weight in (("https://x.example/feed", "Source X", 1.0),
                                   ("https://y.example/feed", "Source Y", 1.05)):  # fmt: skip
            conn.execute(insert(feeds).values(url=url, title=title, weight=weight))
        return {title[-1].lower(): fid for fid, title in conn.execute(select(feeds.c.id, feeds.c.title))}


def _store(engine, feed_id: int, rows, published) -> list[int]:
    """Items of one feed, as ingest stores them (vectors and kinds come at the draft)."""
    out = []
    with engine.begin() as conn:
        for title, summary in rows:
            url = f"https://site{feed_id}.example/{published:%Y%m%d%H%M}/{'-'.join(title.lower().split())}"
            out.append(conn.execute(insert(items).values(
                feed_id=feed_id, guid=url, url=url, canonical_url=url, title=title,
                title_key=" ".join(title.lower().split()), summary_text=summary, summary_html=f"<p>{summary}</p>",
                published_at=published, first_seen_at=published,
            )).inserted_primary_key[0])  # fmt: skip
    return out


def _send_month1(engine, conf, feed_ids) -> dict[str, list[int]]:
    """Month 1 drafted, every candidate approved, sent to READERS people; its pick ids per source."""
    at = now()
    for source, rows in MONTH1_ITEMS.items():
        _store(engine, feed_ids[source], rows, at - timedelta(days=2))
    build_draft(engine, conf, load_sources(conf.feeds), MONTH1, actor="test", now=at)
    with engine.begin() as conn:
        rows = editorial.list_picks(conn, MONTH1)
        for row in rows:
            editorial.decide_pick(conn, row["id"], "approved", "ed")
        editorial.transition(conn, MONTH1, "approved", "ed")
    assert sorted(r["source"] for r in rows) == ["Source X", "Source X", "Source Y", "Source Y"]
    add_audience(engine, READERS, variants=1)
    deliver.start(engine, MONTH1, "test")
    deliver.Worker(conf, engine).run()
    return {key: sorted(r["id"] for r in rows if r["source"] == f"Source {key.upper()}") for key in ("x", "y")}


def _month2_scores(engine, conf, at) -> dict[int, object]:
    """Month 2's items as its draft scores them at `at` (nothing stored): item id -> Score."""
    with engine.begin() as conn:
        since = editorial.get_issue(conn, MONTH1)["sent_at"]
        scores = score_docs(conn, load_sources(conf.feeds), conf, load_docs(conn, since), at)
    return {s.item_id: s for s in scores}


def _token(path: str) -> str:
    return path.split("/")[2]


def test_a_second_months_draft_follows_what_people_clicked_not_scanners(conf, engine, sg, web):
    feed_ids = _feeds(engine)
    month1 = _send_month1(engine, conf, feed_ids)
    mail = [copies(sg)[f"reader{i}@example.com"] for i in range(READERS)]
    age_deliveries(engine)  # the send went out an hour ago: people click now, past the scanners' first seconds
    with engine.connect() as conn:
        sent_at = editorial.get_issue(conn, MONTH1)["sent_at"]
    later = sent_at + timedelta(days=3)
    y_copies = _store(engine, feed_ids["y"], STORIES, sent_at + timedelta(hours=2))
    x_copies = _store(engine, feed_ids["x"], STORIES, sent_at + timedelta(hours=2))

    # Before anyone clicks, Y's copies rank first: its feed weighs more, and readers' interest is 0 for all.
    before = _month2_scores(engine, conf, later)
    for x, y in zip(x_copies, y_copies, strict=True):
        assert before[y].score > before[x].score
        assert before[x].parts["readers"] == before[y].parts["readers"] == 0.0

    (x1, x2), (y1, y2) = month1["x"], month1["y"]
    person, gateway = {"User-Agent": HUMAN_AGENT}, {"User-Agent": SCANNER_AGENT}

    def click(copy, pick_id, headers=person) -> None:
        assert web.get(link(conf, copy, pick_id), headers=headers).status_code == 302

    for copy in mail[:30]:
        click(copy, x1)
    click(mail[0], x1)  # twice: still one reader's click
    for copy in mail[:10]:
        click(copy, x2)
    for copy in mail[30:35]:
        click(copy, y1)
    for copy in mail[20:50]:  # a gateway that names itself opens Y's links in thirty messages
        click(copy, y1, gateway)
        click(copy, y2, gateway)
    # A gateway with a browser's user agent follows every link of ten messages within a second.
    with engine.begin() as conn:
        for copy in mail[40:]:
            start = conn.execute(select(deliveries.c.sent_at).where(deliveries.c.id == copy.delivery_id)).scalar_one()
            for n, pick_id in enumerate((x1, x2, y1, y2)):
                click_module.follow(conn, conf, _token(link(conf, copy, pick_id)), pick_id, method="GET",
                                    user_agent=HUMAN_AGENT, ip="198.51.100.20",
                                    at=start + timedelta(minutes=30, milliseconds=200 * n))  # fmt: skip
    for copy in mail[:3]:
        assert web.post(link(conf, copy, x1, "f"), data={"vote": "more"}).status_code == 200
    assert web.post(link(conf, mail[30], y1, "f"), data={"vote": "less"}).status_code == 200
    assert web.get(link(conf, mail[31], y1, "f") + "&vote=less").status_code == 200  # a scanner opens it: no vote

    with engine.connect() as conn:
        burst = conn.execute(
            select(clicks.c.human, clicks.c.reason).where(clicks.c.delivery_id == mail[45].delivery_id)
        ).all()
        assert {(h, r) for h, r in burst} == {(False, "every link within a second"), (False, "scanner user agent")}
        assert conn.execute(select(func.count()).select_from(feedback)).scalar_one() == 4
        assert figures.source_counts(conn) == {feed_ids["x"]: X_COUNTS, feed_ids["y"]: Y_COUNTS}
        kinds = figures.kind_counts(conn)

    # Month 2's draft: X's copies now rank above Y's, and the part says why in figures.
    build_draft(engine, conf, load_sources(conf.feeds), MONTH2, actor="test", now=later)
    with engine.connect() as conn:
        scored = item_scores.c
        rows = conn.execute(select(scored.item_id, scored.score, scored.parts).where(scored.topic == "career"))
        stored = {item: (score, parts) for item, score, parts in rows}
        month2 = editorial.list_picks(conn, MONTH2)
    after = _month2_scores(engine, conf, later)
    order = [s.item_id for s in ranked(list(after.values()), {"career": 0})]
    for x, y in zip(x_copies, y_copies, strict=True):
        assert stored[x][0] > stored[y][0] and order.index(x) < order.index(y)
        assert stored[x][1]["readers"] > stored[y][1]["readers"]  # both share their kind's interest
    assert sorted(p["item"] for p in month2) == sorted(x_copies)  # each story once: X's telling
    assert all(p["source"] == "Source X" for p in month2)

    baseline = 45 / 200
    kind_name = month2[0]["parts"]["page_kind"]
    of_kind = readers.interest_by({k: readers.ReaderCounts(**c) for k, c in kinds.items()})[kind_name]
    expected = readers.Readers.of(
        {feed_ids["x"]: readers.ReaderCounts(**X_COUNTS), feed_ids["y"]: readers.ReaderCounts(**Y_COUNTS)},
        {k: readers.ReaderCounts(**c) for k, c in kinds.items()},
    )
    assert baseline == 0.225
    x_words = (
        "source: liked: readers clicked 40 of 100 delivered picks (40.0%, against 22.5% overall); "
        f"3 asked for more like this, 0 for less — kind ({kind_name.replace('_', ' ')}): {of_kind.words}"
    )
    y_words = (
        "source: passed over: readers clicked 5 of 100 delivered picks (5.0%, against 22.5% overall); "
        f"0 asked for more like this, 1 for less — kind ({kind_name.replace('_', ' ')}): {of_kind.words}"
    )
    for pick in month2:
        assert pick["parts"]["words"]["readers"] == x_words
        assert pick["parts"]["readers"] == expected.part(feed_ids["x"], kind_name)[0]
        assert f"readers +{round(pick['parts']['readers'], 2):g} (source: liked: readers clicked 40" in explain(
            pick["parts"])
    for y in y_copies:
        assert after[y].words["readers"] == y_words
        assert after[y].parts["readers"] == expected.part(feed_ids["y"], kind_name)[0]

    # `curator picks --json` carries the part and its words.
    from curator.cli import app as cli_app

    env = {"CURATOR_DATABASE_URL": conf.database_url, "CURATOR_FEEDS": str(conf.feeds)}
    result = CliRunner().invoke(cli_app, ["picks", MONTH2, "--json"], env=env)
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [p["parts"]["words"]["readers"] for p in listed] == [x_words, x_words]
    assert all(p["parts"]["readers"] > 0 for p in listed)
