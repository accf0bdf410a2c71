"""The real-world corpus (../shared/feeds), served over HTTP and ingested through the real path.

Each file must be ingested without a crash, yield at least the items feedparser finds
(entries with a web address, counted the way the store merges them), keep no script in
any summary, and a broken file must leave a readable error on its feed's row.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from urllib.parse import urljoin

import feedparser
import pytest
from feedserver import FeedServer, feed, sources
from sqlalchemy import func, select

from curator.ingest import run_ingest
from curator.ingest.normalize import canonical_url
from curator.ingest.parse import parse_feed
from curator.store.schema import feeds, item_sources, items
from tests.conftest import SHARED

CORPUS = SHARED / "feeds"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the feed corpus is absent: {CORPUS}")

# Marked illformed in MANIFEST.tsv, yet well-formed, valid feeds with entries: nothing to record.
WELL_FORMED_DESPITE_MANIFEST = {
    "feed-io/rss/truncated-rss.xml": "despite its name, a complete RSS document with one item",
    "gofeed/atom/atom10_feed_entry_link_href_invalid_space_prefix.xml": "a space before an href is trimmed",
}
SCRIPT = re.compile(r"<script", re.IGNORECASE)
HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
# In an attribute: prose about "JavaScript: event listeners" is fine.
JS_URL = re.compile(r"""=\s*["']?\s*javascript:""", re.IGNORECASE)


def corpus_files() -> list[Path]:
    skip = {".opml", ".md", ".tsv"}
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix.lower() not in skip)


def illformed() -> set[str]:
    with open(CORPUS / "MANIFEST.tsv", newline="", encoding="utf-8") as f:
        return {row["relative_path"] for row in csv.DictReader(f, delimiter="\t") if row["kind"] == "illformed"}


def content_type(path: Path) -> str:
    return "application/feed+json" if path.suffix.lower() == ".json" else "application/xml"


def expected_items(path: Path, url: str) -> int:
    """Entries feedparser (or, for JSON Feed, the file itself) gives with a web address, merged as the store merges."""
    data = path.read_bytes()
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(data)
        except ValueError:
            return 0
        found = [(i.get("url"), str(i.get("id") or "") or None) for i in doc.get("items", []) if isinstance(i, dict)]
    else:
        parsed = feedparser.parse(data, response_headers={"content-location": url, "content-type": content_type(path)})
        found = [(e.get("link"), e.get("id")) for e in parsed.entries]
    urls, guids = set(), set()
    for link, guid in found:
        canonical = canonical_url(urljoin(url, link.strip())) if isinstance(link, str) and link.strip() else None
        if canonical is None and isinstance(guid, str):
            canonical = canonical_url(guid.strip())
        if canonical is None or canonical in urls or (guid and guid.strip() in guids):
            continue
        urls.add(canonical)
        if guid and guid.strip():
            guids.add(guid.strip())
    return len(urls)


@pytest.fixture(scope="module")
def served():
    """Every corpus file at /<its relative path>."""
    with FeedServer() as server:
        for path in corpus_files():
            server.routes["/" + path.relative_to(CORPUS).as_posix()] = feed(
                path.read_bytes(), content_type=content_type(path)
            )
        yield server


def test_the_whole_corpus_ingests(settings, engine, served):
    files = {served.url("/" + p.relative_to(CORPUS).as_posix()): p for p in corpus_files()}
    assert len(files) > 150
    report = run_ingest(settings, engine, sources(*files))
    assert len(report.feeds) == len(files)

    with engine.connect() as conn:
        rows = {row.source_url: row for row in conn.execute(select(feeds))}
        counts = dict(conn.execute(select(item_sources.c.feed_id, func.count()).group_by(item_sources.c.feed_id)).all())
        summaries = conn.execute(select(items.c.canonical_url, items.c.summary_html)).all()

    short = {}
    for url, path in files.items():
        got, want = counts.get(rows[url].id, 0), expected_items(path, url)
        if got < want:
            short[str(path.relative_to(CORPUS))] = f"{got} stored < {want} expected ({rows[url].last_error})"
    assert short == {}

    for canonical, html in summaries:
        assert not SCRIPT.search(html), canonical
        assert not HANDLER.search(html), canonical
        assert not JS_URL.search(html), canonical

    broken = illformed()
    unrecorded = set()
    for url, path in files.items():
        relative = path.relative_to(CORPUS).as_posix()
        flagged = parse_feed(path.read_bytes(), url=url, content_type=content_type(path)).error
        if (relative in broken or flagged) and not rows[url].last_error:
            unrecorded.add(relative)
    assert unrecorded == set(WELL_FORMED_DESPITE_MANIFEST)
