"""The draft of a small corpus of real-looking pages, ingested from a local server: resources first."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from datetime import timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import select

from curator import editorial
from curator.curate import build_draft
from curator.ingest import run_ingest
from curator.sources import load_sources
from curator.store.schema import item_scores, items, now

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PAGES = json.loads((HERE / "fixture_pages.json").read_text())
PERIOD = "2026-12"


def rss(name: str, pages: list[dict]) -> bytes:
    at = now() - timedelta(days=2)
    body = "".join(
        f"<item><title>{escape(p['title'])}</title><link>{escape(p['url'])}</link>"
        f"<pubDate>{format_datetime(at)}</pubDate><description>{escape(p['summary'])}</description></item>"
        for p in pages
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>{body}</channel></rss>'.encode()


@pytest.fixture
def feed_urls():
    groups = defaultdict(list)
    for page in PAGES:
        groups[page["feed"]].append(page)
    bodies = {f"/{name}.xml": rss(name, pages) for name, pages in groups.items()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            body = bodies.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield [f"http://127.0.0.1:{server.server_address[1]}{path}" for path in sorted(bodies)]
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture
def drafted(settings, engine, feed_urls, tmp_path):
    shipped = (REPO / "feeds.yaml").read_text()
    feeds_yaml = tmp_path / "feeds.yaml"
    feeds = "".join(f"  - url: {u}\n" for u in feed_urls)
    feeds_yaml.write_text(shipped[: shipped.index("\nfeeds:")] + "\nfeeds:\n" + feeds)
    sources = load_sources(feeds_yaml)
    report = run_ingest(settings, engine, sources)
    assert report.new_items == len(PAGES), [f.error for f in report.feeds]
    build_draft(engine, settings, sources, PERIOD, actor="test")
    with engine.connect() as conn:
        scores = conn.execute(
            select(items.c.url, item_scores.c.topic, item_scores.c.score, item_scores.c.parts)
            .join(items, items.c.id == item_scores.c.item_id)
        ).all()
        picks = editorial.list_picks(conn, PERIOD)
    return scores, picks


def test_every_item_is_embedded_at_ingest(drafted, engine):
    with engine.connect() as conn:
        vectors = conn.execute(select(items.c.embedding)).scalars().all()
    assert len(vectors) == len(PAGES) and all(v and len(v) == 512 for v in vectors)


def test_genuine_resources_rank_ahead_of_job_postings_releases_and_keyword_traps(drafted):
    scores, _ = drafted
    good = {p["url"]: p["good"] for p in PAGES}
    by_topic = defaultdict(list)
    for url, topic, score, parts in scores:
        by_topic[topic].append((score, url, parts))
    checked = 0
    for topic, ranked in by_topic.items():
        resources = [s for s, url, _ in ranked if good[url] == topic]
        junk = [(s, url) for s, url, _ in ranked if not good[url]]
        if resources and junk:
            checked += 1
            assert min(resources) > max(s for s, _ in junk), (topic, sorted(ranked, reverse=True))
    assert checked >= 3


def test_quota_picks_hold_no_junk_and_each_resource_lands_in_its_topic(drafted):
    _, picks = drafted
    good = {p["url"]: p["good"] for p in PAGES}
    assert picks
    for pick in picks:
        assert good[pick["url"]], f"{pick['title']} is not a resource but was picked under {pick['topic']}"
        assert good[pick["url"]] == pick["topic"], pick


def test_a_job_posting_scores_far_below_an_article_with_the_reason_in_words(drafted):
    scores, picks = drafted
    kinds = {url: parts for url, _, _, parts in scores}
    job = kinds.get("https://jobs.example.com/jobs/senior-software-engineer-remote-12345")
    article = kinds["https://career-letters.example.org/negotiate-your-first-offer"]
    assert job is not None, "the job posting matches career keywords: it must be scored (and ranked low)"
    assert job["page_kind"] == "job_posting" and job["kind"] <= article["kind"] - 3
    # Picks keep every part in words (stored scores keep the numbers only).
    assert all(set(pick["parts"]["words"]) >= {"lexical", "semantic", "kind", "freshness"} for pick in picks)
    assert any("an article" in pick["parts"]["words"]["kind"] for pick in picks)


def test_the_same_story_from_two_sites_is_one_pick_also_covered_by_the_other(drafted):
    _, picks = drafted
    urls = {pick["url"] for pick in picks}
    first = "https://career-letters.example.org/negotiate-your-first-offer"
    again = "https://dev-digest.example.com/2026/negotiating-first-offer"
    assert len(urls & {first, again}) == 1
    (kept,) = [pick for pick in picks if pick["url"] in (first, again)]
    other = "dev-digest.example.com" if kept["url"] == first else "career-letters.example.org"
    assert kept["parts"]["also_covered_by"] == [other]
