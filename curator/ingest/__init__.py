"""Ingest: fetch → parse → normalize and sanitize → store → vectors, for every feed of feeds.yaml.

`run_ingest` reads in the order the data flows. Feeds are fetched concurrently (httpx,
asyncio); each body is then parsed, normalized, sanitized and stored, one transaction
per feed, by `Workers` (worker processes on big runs); the items that are new get their
embedding and page kind in batches, in this process (`Vectors`). Whatever goes wrong with
one feed is recorded on its row and the run goes on.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from multiprocessing.util import Finalize
from urllib.parse import urljoin, urlsplit

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from curator.config import Settings
from curator.errors import DatabaseError, NotFound
from curator.ingest.fetched import FetchRequest, FetchResult, Status
from curator.ingest.health import record_error, record_not_modified, record_success, unremarkable
from curator.ingest.normalize import canonical_url, clean_title, title_key, to_utc
from curator.ingest.parse import ParsedEntry, parse_feed
from curator.ingest.sanitize import excerpt, sanitize_html
from curator.ingest.store_items import FeedRow, ItemRow, feed_rows, item_counts, save_items, sync_feeds
from curator.ingest.vectors import NewItem, Vectors
from curator.sources import Sources
from curator.store import make_engine
from curator.store.schema import now as utcnow

__all__ = ["FeedReport", "IngestReport", "run_ingest", "check_feeds"]

FUTURE_SLACK = timedelta(days=1)  # clocks and time zones drift; beyond this a date is wrong


@dataclass
class FeedReport:
    """What one run did to one feed; `url` is the address as feeds.yaml writes it."""

    url: str
    status: Status
    new_items: int = 0
    total_items: int = 0
    error: str | None = None
    entries: int = 0
    skipped_entries: int = 0  # entries with no link and no URL-like GUID: nothing to point a reader at
    moved_to: str | None = None
    feed_id: int | None = None

    def as_json(self) -> dict:
        return {
            "url": self.url, "status": self.status, "new_items": self.new_items,
            "total_items": self.total_items, "error": self.error,
        }


@dataclass
class IngestReport:
    """Every feed fetched in a run, and those left alone (not due yet, or disabled)."""

    feeds: list[FeedReport] = field(default_factory=list)
    not_due: int = 0
    disabled: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def new_items(self) -> int:
        return sum(feed.new_items for feed in self.feeds)

    @property
    def errors(self) -> list[FeedReport]:
        return [feed for feed in self.feeds if feed.status == "error"]


# A feed's report, and the items it stored that need their vectors.
Stored = tuple[FeedReport, list[NewItem]]

# progress(done, total, report): called with (0, total, None) before the first feed.
Progress = Callable[[int, int, FeedReport | None], None]


def run_ingest(
    settings: Settings, engine: Engine, sources: Sources, *, progress: Progress | None = None, only: str | None = None
) -> IngestReport:
    """Fetch every feed that is due, store its new items and its health; `only` limits it to one feed."""
    try:
        return _run(settings, engine, sources, progress, only)
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseError(
            f"the database failed during ingest: {reason}; check that it is up (CURATOR_DATABASE_URL), "
            "then run `curator ingest` again"
        ) from None


def _run(
    settings: Settings, engine: Engine, sources: Sources, progress: Progress | None, only: str | None
) -> IngestReport:
    started = time.monotonic()
    with engine.begin() as conn:
        sync_feeds(conn, sources)
        rows = feed_rows(conn, [feed.url for feed in sources.feeds])
    if only is not None:
        rows = [row for row in rows if only in (row.source_url, row.url)]
        if not rows:
            raise NotFound(f"{only} is not in {settings.feeds}; add it there, or check `curator feeds`")
    now = utcnow()
    report = IngestReport(disabled=[row.source_url or row.url for row in rows if row.disabled])
    due = [row for row in rows if not row.disabled and (row.next_fetch_at is None or row.next_fetch_at <= now)]
    report.not_due = len(rows) - len(report.disabled) - len(due)
    report.feeds = asyncio.run(_fetch_and_store(settings, engine, due, progress))
    with engine.connect() as conn:
        totals = item_counts(conn, [feed.feed_id for feed in report.feeds])
    for feed in report.feeds:
        feed.total_items = totals.get(feed.feed_id, 0)
    report.seconds = time.monotonic() - started
    return report


async def _fetch_and_store(
    settings: Settings, engine: Engine, feeds: list[FeedRow], progress: Progress | None
) -> list[FeedReport]:
    # Bodies fetched but not stored yet wait in memory: this bounds how many.
    room = asyncio.Semaphore(2 * settings.fetch_concurrency)
    done: list[FeedReport] = []
    if progress:
        progress(0, len(feeds), None)

    async def one(feed: FeedRow) -> None:
        async with room:
            result = await fetcher.fetch(FetchRequest(feed.url, feed.etag, feed.last_modified))
            report, new = await workers.process(feed, result)
        vectors.add(new)
        done.append(report)
        if progress:
            progress(len(done), len(feeds), report)

    from curator.ingest.fetch import Fetcher  # httpx: not for the parse workers, which import this package

    vectors = Vectors(engine)
    try:
        with Workers(settings, engine, len(feeds)) as workers:
            fetcher = Fetcher(settings, file_base=settings.feeds.parent, expected=[feed.url for feed in feeds])
            async with fetcher, asyncio.TaskGroup() as group:
                for feed in interleave_hosts(feeds):
                    group.create_task(one(feed))
    finally:
        await asyncio.to_thread(vectors.finish)
    return done


def interleave_hosts(feeds: list[FeedRow]) -> list[FeedRow]:
    """Feeds in turn from each host, so that waiting for one busy host does not hold up the others."""
    by_host: defaultdict[str, list[FeedRow]] = defaultdict(list)
    for feed in feeds:
        by_host[urlsplit(feed.url).hostname or ""].append(feed)
    queues = list(by_host.values())
    return [queue[i] for i in range(max(map(len, queues), default=0)) for queue in queues if i < len(queue)]


class Workers:
    """Where fetched feeds are read (parsed, normalized, sanitized) and stored: the CPU-heavy part.

    Parsing and SQLAlchemy are CPU-bound and the GIL serializes threads, so a big run on
    several cores reads and stores bodies in worker processes, each with its own engine.
    They import neither numpy nor the embedding model: what a worker sends back is the feed's
    report and its new items' text, for the Vectors stage.
    Small runs, and answers without a body (304, errors), stay in one thread here; the
    pool starts at the first body, so a run where every feed answers 304 never pays for it.
    """

    PARALLEL_FROM = 50  # feeds in a run; below this, starting processes costs more than it saves
    UNCHANGED_BATCH = 100  # 304 answers recorded at once (`record_not_modified`)

    def __init__(self, settings: Settings, engine: Engine, feeds: int):
        wanted = settings.ingest_processes or (os.cpu_count() or 1)
        self.processes = wanted if feeds >= self.PARALLEL_FROM or settings.ingest_processes else 1
        self.settings, self.engine = settings, engine
        self._local = ThreadPoolExecutor(1, thread_name_prefix="curator-ingest")
        self._pool: ProcessPoolExecutor | None = None
        self._unchanged: list[tuple[FeedRow, FetchResult]] = []

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self._record_unchanged(self._unchanged)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
            self._local.shutdown(wait=True, cancel_futures=True)

    async def process(self, feed: FeedRow, result: FetchResult) -> Stored:
        loop = asyncio.get_running_loop()
        if unremarkable(result):
            # Nothing to read and nothing that needs the database to answer: recorded with others, in a batch.
            self._unchanged.append((feed, result))
            if len(self._unchanged) >= self.UNCHANGED_BATCH:
                batch, self._unchanged = self._unchanged, []
                await loop.run_in_executor(self._local, self._record_unchanged, batch)
            return FeedReport(feed.source_url or feed.url, "not_modified", feed_id=feed.id), []
        if self.processes == 1 or result.status != "ok":
            return await loop.run_in_executor(self._local, process_feed, self.settings, self.engine, feed, result)
        try:
            return await loop.run_in_executor(self._start(), process_in_worker, self.settings, feed, result)
        except BrokenProcessPool:
            self._pool = None  # the next feed starts a fresh pool
            result = replace(result, status="error", error="the process reading this feed (or one beside it) died")
            return await loop.run_in_executor(self._local, process_feed, self.settings, self.engine, feed, result)

    def _record_unchanged(self, batch: list[tuple[FeedRow, FetchResult]]) -> None:
        if batch:
            with self.engine.begin() as conn:
                record_not_modified(conn, batch, utcnow())

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: forking this process, which runs threads, is not safe. What the server
            # imports, workers share; the last module freezes it, out of the collector's reach.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["curator.ingest", "curator.ingest.forkserver"])
            self._pool = ProcessPoolExecutor(self.processes, mp_context=context)
        return self._pool


_worker_engines: dict[str, Engine] = {}


def process_in_worker(settings: Settings, feed: FeedRow, result: FetchResult) -> Stored:
    """`process_feed` in a worker process, on an engine of its own, kept for the worker's life."""
    engine = _worker_engines.get(settings.database_url)
    if engine is None:
        engine = _worker_engines[settings.database_url] = make_engine(settings.database_url)
        Finalize(engine, engine.dispose, exitpriority=10)
    return process_feed(settings, engine, feed, result)


def process_feed(settings: Settings, engine: Engine, feed: FeedRow, result: FetchResult) -> Stored:
    """Read a fetched body, if there is one, then store it and the feed's health."""
    read = read_entries(result.content, result.final_url, result.content_type, utcnow()) if result.status == "ok" \
        else None
    return store_feed(settings, engine, feed, result, read)


@dataclass
class ReadFeed:
    """A fetched body, parsed, its entries ready to store."""

    title: str
    link: str | None
    error: str | None
    entries: int = 0
    rows: list[ItemRow] = field(default_factory=list)
    skipped: int = 0


def read_entries(content: bytes, base: str, content_type: str | None, now: datetime) -> ReadFeed:
    """Parse a body, then normalize and sanitize its entries."""
    parsed = parse_feed(content, url=base, content_type=content_type)
    rows, skipped = prepare(parsed.entries, base, now)
    return ReadFeed(clean_title(parsed.title), parsed.link, parsed.error, len(parsed.entries), rows, skipped)


def store_feed(
    settings: Settings, engine: Engine, feed: FeedRow, result: FetchResult, read: ReadFeed | None
) -> Stored:
    """Store one feed's items and record its health; never raises for the feed's sake."""
    url, now = feed.source_url or feed.url, utcnow()
    try:
        with engine.begin() as conn:
            if result.status == "error":
                error = record_error(
                    conn, feed, result.error or "unknown error", now, settings,
                    http_status=result.http_status, wait_until=result.wait_until,
                )
                return FeedReport(url, "error", error=error, feed_id=feed.id), []
            if result.status == "not_modified" or read is None:
                moved = record_success(conn, feed, result, now)
                return FeedReport(url, "not_modified", moved_to=moved, feed_id=feed.id), []
            status, problem = verdict(read)
            if status == "error":
                error = record_error(conn, feed, problem, now, settings, http_status=result.http_status)
                return FeedReport(url, "error", error=error, feed_id=feed.id), []
            new = save_items(conn, feed.id, read.rows)
            site = canonical_url(read.link, result.final_url) if read.link else None
            moved = record_success(conn, feed, result, now, title=read.title, site_url=site, warning=problem)
            return FeedReport(url, "ok", len(new), 0, problem, read.entries, read.skipped, moved, feed.id), new
    except DBAPIError as exc:
        if exc.connection_invalidated or isinstance(exc, OperationalError):
            raise  # the database itself is failing: stop the run (run_ingest says so)
        error = f"could not store this feed: {type(exc).__name__}: {exc.orig}"
    except Exception as exc:  # one feed's bad data must not stop the run
        error = f"could not store this feed: {type(exc).__name__}: {exc}"
    with engine.begin() as conn:
        error = record_error(conn, feed, error, now, settings)
    return FeedReport(url, "error", error=error, feed_id=feed.id), []


def verdict(read: ReadFeed) -> tuple[Status, str | None]:
    """Whether a feed that was read counts as a success, and what is wrong with it, in words."""
    if read.error and not read.entries:
        return "error", f"not a readable feed: {read.error}"
    if read.error:
        return "ok", f"malformed feed, {read.entries} entries recovered: {read.error}"
    if not read.entries:
        return "ok", "the feed has no entries: check that the address is the feed's, not the site's"
    if read.skipped == read.entries:
        return "ok", f"none of its {read.entries} entries has a link or a GUID that is a web address: nothing stored"
    return "ok", None


def prepare(entries: list[ParsedEntry], base: str, now: datetime) -> tuple[list[ItemRow], int]:
    """Entries as rows to store (canonical URLs, UTC times, clean titles, safe summaries), and how many were skipped."""
    rows, skipped = [], 0
    for entry in entries:
        link = entry.link.strip() if entry.link else None
        if link and not link.startswith(("http://", "https://")):  # the parser resolves most; urljoin is slow
            link = urljoin(base, link)
        canonical = canonical_url(link) if link else None
        if canonical is None and entry.guid:
            # A GUID that is itself a web address (RSS isPermaLink) is as good as a link.
            link = entry.guid.strip()
            canonical = canonical_url(link)
        if canonical is None or len(canonical) > 2048 or len(link) > 2048:
            skipped += 1
            continue
        summary = sanitize_html(_text(entry.summary_html), base_url=link)
        title = clean_title(_text(entry.title)) or excerpt(summary, 120) or canonical
        published = to_utc(entry.published) or to_utc(entry.updated) or now
        rows.append(ItemRow(
            guid=_text(entry.guid).strip()[:2048] or None,
            url=_text(link),
            canonical_url=_text(canonical),
            title=title[:1000],
            title_key=title_key(title)[:1000],
            summary_html=summary,
            summary_text=excerpt(summary, 300),
            author=_text(entry.author).strip()[:500] or None,
            published_at=now if published > now + FUTURE_SLACK else published,
        ))
    return rows, skipped


def _text(value: str | None) -> str:
    # PostgreSQL refuses NUL characters in text; feeds do contain them.
    return (value or "").replace("\x00", "")


def check_feeds(settings: Settings, sources: Sources, *, progress: Progress | None = None) -> list[FeedReport]:
    """Fetch and parse every feed of feeds.yaml once, storing nothing: what would go wrong."""
    return asyncio.run(_check(settings, sources, progress))


async def _check(settings: Settings, sources: Sources, progress: Progress | None) -> list[FeedReport]:
    from curator.ingest.fetch import Fetcher

    reports: list[FeedReport] = []
    if progress:
        progress(0, len(sources.feeds), None)

    async def one(url: str) -> None:
        result = await fetcher.fetch(FetchRequest(url))
        report = FeedReport(url, result.status, error=result.error, moved_to=result.moved_to)
        if result.status == "ok":
            read = await asyncio.to_thread(
                read_entries, result.content, result.final_url, result.content_type, utcnow()
            )
            report.entries, report.skipped_entries = read.entries, read.skipped
            report.status, report.error = verdict(read)
        reports.append(report)
        if progress:
            progress(len(reports), len(sources.feeds), report)

    async with Fetcher(settings, file_base=settings.feeds.parent) as fetcher, asyncio.TaskGroup() as group:
        for feed in sources.feeds:
            group.create_task(one(feed.url))
    order = {feed.url: i for i, feed in enumerate(sources.feeds)}
    return sorted(reports, key=lambda report: order[report.url])
