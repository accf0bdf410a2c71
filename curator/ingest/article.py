"""The full article, for an issue's candidates only: word count, reading time, a summary when the feed had none.

Pages are fetched by the feeds' own `Fetcher` (curator/ingest/fetch.py), so they get the same
limits: timeouts, the size cap, redirects, per-host and overall concurrency (and any address
guard the fetcher applies). Each host's robots.txt is read first, once, and a page it
disallows for Curator's user agent is not fetched. The main text is extracted with
readability-lxml. A page that cannot be read is simply left without a word count.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import lxml.html
from readability import Document
from sqlalchemy import Engine, select, update

from curator.config import Settings
from curator.ingest.fetch import Fetcher, FetchRequest, is_http, user_agent
from curator.ingest.sanitize import excerpt
from curator.store.schema import issues, items, picks

WORDS_PER_MINUTE = 230
SUMMARY_CHARS = 300


def reading_minutes(word_count: int | None) -> int | None:
    """Minutes to read `word_count` words at an unhurried 230 a minute; None when unknown."""
    return None if not word_count else max(1, math.ceil(word_count / WORDS_PER_MINUTE))


@dataclass
class ArticleReport:
    read: int = 0
    disallowed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def main_text(html: bytes | str) -> str:
    """The page's main text (its paragraphs, when it has any), without navigation, footers and scripts."""
    tree = lxml.html.fromstring(Document(html).summary(html_partial=True))
    paragraphs = tree.xpath("//p") or [tree]
    texts = (" ".join(" ".join(p.itertext()).split()) for p in paragraphs)
    return " ".join(text for text in texts if text)


def fetch_for_issue(settings: Settings, engine: Engine, period: str) -> ArticleReport:
    """Read the articles of `period`'s picks that have no word count yet, and store what they say."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(items.c.id, items.c.url, items.c.summary_text)
            .join(picks, picks.c.item_id == items.c.id)
            .join(issues, issues.c.id == picks.c.issue_id)
            .where(issues.c.period == period, items.c.word_count.is_(None), picks.c.decision != "rejected")
        ).all()
    targets = [row for row in rows if is_http(row.url)]
    if not targets:
        return ArticleReport()
    report = ArticleReport()
    texts = asyncio.run(_read(settings, [(row.id, row.url) for row in targets], report))
    with engine.begin() as conn:
        for row in targets:
            text = texts.get(row.id)
            if text is None:
                continue
            values: dict = {"word_count": len(text.split())}
            if not row.summary_text.strip() and text:
                values["summary_text"] = excerpt(text, SUMMARY_CHARS)
            conn.execute(update(items).where(items.c.id == row.id).values(**values))
            report.read += 1
    return report


async def _read(settings: Settings, targets: list[tuple[int, str]], report: ArticleReport) -> dict[int, str]:
    agent = user_agent(settings)
    async with Fetcher(settings, expected=[url for _, url in targets]) as fetcher:
        robots = await _robots(fetcher, {_origin(url) for _, url in targets})
        texts: dict[int, str] = {}

        async def one(item_id: int, url: str) -> None:
            rules = robots.get(_origin(url))
            if rules is not None and not rules.can_fetch(agent, url):
                report.disallowed.append(url)
                return
            result = await fetcher.fetch(FetchRequest(url))
            if result.status != "ok":
                report.failed.append(f"{url}: {result.error or result.status}")
                return
            try:
                texts[item_id] = main_text(result.content)
            except Exception as exc:  # a page readability cannot parse is data, not a crash
                report.failed.append(f"{url}: could not extract its text ({type(exc).__name__})")

        await asyncio.gather(*(one(item_id, url) for item_id, url in targets))
    return texts


async def _robots(fetcher: Fetcher, origins: set[str]) -> dict[str, RobotFileParser | None]:
    """Each origin's robots.txt rules; None (everything allowed) when it has none or cannot be read."""

    async def one(origin: str) -> tuple[str, RobotFileParser | None]:
        result = await fetcher.fetch(FetchRequest(origin + "/robots.txt"))
        if result.status != "ok":
            return origin, None
        rules = RobotFileParser()
        rules.parse(result.content.decode("utf-8", "replace").splitlines())
        return origin, rules

    return dict(await asyncio.gather(*(one(origin) for origin in sorted(origins))))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
