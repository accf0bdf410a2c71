"""Candidates' article pages, served locally: word count, reading time, a summary when the feed had none, robots.txt."""

from __future__ import annotations

import threading
from datetime import timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from curator import editorial
from curator.curate import build_draft
from curator.ingest import run_ingest
from curator.ingest.article import fetch_for_issue, main_text, reading_minutes
from curator.sources import load_sources
from curator.store.schema import items, now

PERIOD = "2026-12"
BODY = " ".join(["Reviewing code well means reading the change as its future maintainer would."] * 60)


def page(title: str, body: str) -> bytes:
    return (f"<html><head><title>{title}</title></head><body><nav>Home · About · Archive</nav>"
            f"<article><h1>{title}</h1><p>{body}</p><p>{body}</p></article>"
            "<footer>© a blog, all rights reserved</footer></body></html>").encode()


@pytest.fixture
def site():
    seen: list[str] = []
    routes: dict[str, tuple[str, bytes]] = {
        "/robots.txt": ("text/plain", b"User-agent: *\nDisallow: /private/\n"),
        "/posts/code-review": ("text/html", page("What a good code review looks like", BODY)),
        "/private/debugging": ("text/html", page("Debugging notes", BODY)),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            seen.append(self.path)
            kind, body = routes.get(self.path, ("text/plain", b""))
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    at = format_datetime(now() - timedelta(days=1))
    routes["/feed.xml"] = ("application/rss+xml", (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>A blog</title>'
        f"<item><title>What a good code review looks like</title><link>{base}/posts/code-review</link>"
        f"<pubDate>{at}</pubDate></item>"
        f"<item><title>Debugging a production incident: notes</title><link>{base}/private/debugging</link>"
        f"<pubDate>{at}</pubDate><description>How we debugged an outage, step by step.</description></item>"
        "</channel></rss>").encode())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield base, seen
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_main_text_leaves_out_navigation_and_footers():
    text = main_text(page("Title", BODY))
    assert "Reviewing code well" in text and "rights reserved" not in text and "Archive" not in text


def test_reading_time_rounds_up_at_230_words_a_minute():
    assert [reading_minutes(n) for n in (None, 0, 1, 230, 231, 2300)] == [None, None, 1, 1, 2, 10]


def test_candidates_articles_are_read_within_robots_txt(site, settings, engine, tmp_path):
    base, seen = site
    feeds_yaml = tmp_path / "feeds.yaml"
    feeds_yaml.write_text(
        "topics:\n  - name: software-engineering\n    keywords: [code review, debugging]\n"
        f"feeds:\n  - url: {base}/feed.xml\n"
    )
    conf = settings.model_copy(update={"fetch_articles": True, "min_pick_score": -100.0})
    sources = load_sources(feeds_yaml)
    run_ingest(conf, engine, sources)
    build_draft(engine, conf, sources, PERIOD, actor="test")
    report = fetch_for_issue(conf, engine, PERIOD)
    assert report.read == 1 and report.disallowed == [f"{base}/private/debugging"]
    assert "/private/debugging" not in seen and seen.count("/robots.txt") == 1
    with engine.connect() as conn:
        stored = {row.url: row for row in conn.execute(select(items.c.url, items.c.word_count, items.c.summary_text))}
        content = editorial.issue_content(conn, PERIOD, [("software-engineering", "SE")], include_suggested=True)
    review = stored[f"{base}/posts/code-review"]
    assert review.word_count > 1000 and review.summary_text.startswith("Reviewing code well")  # the feed had none
    assert stored[f"{base}/private/debugging"].word_count is None
    minutes = {p.title: p.reading_minutes for s in content.sections for p in s.picks}
    assert minutes["What a good code review looks like"] == reading_minutes(review.word_count)
    again = fetch_for_issue(conf, engine, PERIOD)  # read once: only the page robots.txt keeps out is left
    assert again.read == 0
