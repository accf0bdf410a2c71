"""The shared feed corpus (../shared/feeds) through parse_feed.

Every file parses without a crash and yields at least what feedparser (or, for JSON Feed,
the file's "items") holds; wherever the lxml path is taken it reads exactly what the
feedparser path reads; and the broken files carry an error.
"""

from __future__ import annotations

import csv
import io
import json
import re
from functools import cache
from pathlib import Path

import feedparser
import pytest

from curator.ingest.parse import ParsedFeed, parse_feed, parse_with_feedparser

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "feeds"
pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"the shared feed corpus is absent: {CORPUS}"
)
BASE = "https://feeds.example.net/"
# feedparser's own test files name the HTTP header they were served with in a comment.
HEADER = re.compile(rb"^Header:\s*Content-type:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)

# Marked illformed in MANIFEST.tsv, but nothing in the document is broken for a parser:
# what makes them "ill-formed" elsewhere is no error here, or is the orchestrator's to
# report (a feed without entries, entries without a web address).
NOTHING_BROKEN = {
    "feed-io/rss/truncated-rss.xml": "despite its name, a complete RSS document",
    "feed-io/truncated-atom.xml": "well-formed Atom with its entry in an unknown <entries>: no entries",
    "feedparser/encoding/bozo_http_i18n.xml":
        "valid UTF-8 as declared; text/xml without charset defaulting to us-ascii is RFC 3023, "
        "obsoleted by RFC 7303, which follows the declaration",
    "feedparser/encoding/bozo_http_text_plain.xml": "served as text/plain: a server setting",
    "feedparser/encoding/bozo_http_text_plain_charset.xml": "served as text/plain: a server setting",
    "feedparser/illformed/always_strip_doctype.xml":
        "an unrelated DOCTYPE is harmless; feedparser's own test expects no error",
    "feedparser/illformed/http_high_bit_date.xml":
        "the Greek date is read; text/xml without charset is fine under RFC 7303",
    "gofeed/atom/atom10_feed_entry_link_href_invalid_space_prefix.xml":
        "the space before the href is trimmed",
    "gofeed/rss/issue_303_encoded_no_namespace.xml": "an unknown <encoded> element is ignored",
    "gofeed/universal/rss_feed_leading_spaces.xml":
        "whitespace before the root is allowed when there is no XML declaration",
}


@cache
def manifest() -> dict[str, str]:
    """Corpus file -> kind (real-world, synthetic, illformed); OPML is not a feed."""
    with open(CORPUS / "MANIFEST.tsv", newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f, delimiter="\t")
        return {r["relative_path"]: r["kind"] for r in rows if not r["relative_path"].endswith(".opml")}


def corpus() -> list[str]:
    return sorted(manifest()) if CORPUS.is_dir() else []


def read(path: str) -> tuple[bytes, str | None]:
    data = (CORPUS / path).read_bytes()
    header = HEADER.search(data[:1000])
    return data, header.group(1).decode() if header else None


@cache
def parsed(path: str) -> ParsedFeed:
    data, content_type = read(path)
    return parse_feed(data, url=BASE + path, content_type=content_type)


def expected_entries(path: str) -> int:
    data, content_type = read(path)
    if path.endswith(".json"):
        try:
            doc = json.loads(data)
        except ValueError:
            return 0
        items = doc.get("items") if isinstance(doc, dict) else None
        return len(items) if isinstance(items, list) else 0
    headers = {"content-type": content_type} if content_type else {}
    return len(feedparser.parse(io.BytesIO(data), response_headers=headers).entries)


def test_the_corpus_is_there():
    assert len(corpus()) > 190


@pytest.mark.parametrize("path", corpus())
def test_parses_and_finds_at_least_what_feedparser_finds(path):
    feed = parsed(path)
    assert isinstance(feed, ParsedFeed)
    assert feed.parser in ("lxml", "feedparser", "jsonfeed")
    assert len(feed.entries) >= expected_entries(path)


@pytest.mark.parametrize("path", corpus())
def test_the_lxml_path_reads_what_the_feedparser_path_reads(path):
    fast = parsed(path)
    if fast.parser != "lxml":
        return  # nothing to compare: this file is read by feedparser or as JSON Feed only
    data, content_type = read(path)
    slow = parse_with_feedparser(data, url=BASE + path, content_type=content_type)
    assert slow.parser == "feedparser"
    assert (fast.title, fast.link) == (slow.title, slow.link)
    assert len(fast.entries) == len(slow.entries)
    for fast_entry, slow_entry in zip(fast.entries, slow.entries, strict=True):
        for field in ("guid", "link", "title", "author", "published", "updated"):
            assert getattr(fast_entry, field) == getattr(slow_entry, field), field
        assert re.sub(r"\s+", "", fast_entry.summary_html) == re.sub(
            r"\s+", "", slow_entry.summary_html
        )


def test_most_of_the_corpus_takes_the_lxml_path():
    taken = [path for path in corpus() if parsed(path).parser == "lxml"]
    well_formed_xml = [p for p, kind in manifest().items() if kind != "illformed" and not p.endswith(".json")]
    assert len(taken) >= 0.9 * len(well_formed_xml)


@pytest.mark.parametrize(
    "path", [p for p in corpus() if manifest()[p] == "illformed" and p not in NOTHING_BROKEN]
)
def test_broken_files_carry_an_error(path):
    feed = parsed(path)
    assert feed.error, f"{path} is broken but parsed without an error"


@pytest.mark.parametrize("path", sorted(NOTHING_BROKEN))
def test_illformed_files_with_nothing_broken_are_read_cleanly(path):
    feed = parsed(path)
    assert feed.error is None, f"{path}: {feed.error}"
    assert feed.parser == "lxml"
