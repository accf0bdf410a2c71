"""Feed health: what each fetch did to its feed's row, backoff and disabling, and the table ops reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, func, select, update

from curator.config import Settings
from curator.errors import NotFound
from curator.ingest.fetched import FetchResult
from curator.ingest.store_items import FeedRow, feed_rows
from curator.store.schema import feeds, item_sources, items


def enable_hint(url: str) -> str:
    return f"fix it, then run `curator feeds enable {url}`"


def record_success(
    conn: Connection, feed: FeedRow, result: FetchResult, now: datetime, *,
    title: str | None = None, site_url: str | None = None, warning: str | None = None,
) -> str | None:
    """An ok or not-modified answer: the error count resets; returns the address the feed moved to, if it did."""
    values = _success(result, now, warning)
    if title and not feed.title:  # feeds.yaml's title, copied at every run, wins over the feed's own
        values["title"] = title[:500]
    if site_url:
        values["site_url"] = site_url[:2048]
    moved = _free_address(conn, feed, result.moved_to)
    if moved:
        values["url"] = moved
    conn.execute(update(feeds).where(feeds.c.id == feed.id).values(**values))
    return moved


def unremarkable(result: FetchResult) -> bool:
    """A 304 that did not move, with validators that fit their columns: nothing in it can fail on its own,
    so it can be recorded in a batch (`record_not_modified`) without one feed's bad answer failing the others."""
    return (
        result.status == "not_modified" and not result.moved_to
        and len(result.etag or "") <= (feeds.c.etag.type.length or 0)
        and len(result.last_modified or "") <= (feeds.c.last_modified.type.length or 0)
    )


def record_not_modified(conn: Connection, answers: list[tuple[FeedRow, FetchResult]], now: datetime) -> None:
    """What `record_success` records for each of many 304 answers that did not move, in one executemany.

    A warm run is mostly these: one transaction and one freshly built UPDATE per feed cost more
    than the answer itself.
    """
    if not answers:
        return
    names = list(_success(answers[0][1], now, None))
    statement = update(feeds).where(feeds.c.id == bindparam("feed_id")).values(
        **{name: bindparam(f"v_{name}") for name in names}
    )
    conn.execute(statement, [
        {"feed_id": feed.id, **{f"v_{name}": value for name, value in _success(result, now, None).items()}}
        for feed, result in answers
    ])


def _success(result: FetchResult, now: datetime, warning: str | None) -> dict:
    return {
        "last_fetch_at": now,
        "last_success_at": now,
        "last_status": result.status,
        "http_status": result.http_status,
        "consecutive_errors": 0,
        "last_error": warning,
        "next_fetch_at": result.wait_until,
        "etag": result.etag,
        "last_modified": result.last_modified,
    }


def _free_address(conn: Connection, feed: FeedRow, moved_to: str | None) -> str | None:
    """The new address of a permanent redirect, unless another feed already has it."""
    if not moved_to or moved_to == feed.url or len(moved_to) > 2048:
        return None
    taken = conn.execute(select(feeds.c.id).where(feeds.c.url == moved_to, feeds.c.id != feed.id)).first()
    return None if taken else moved_to


def record_error(
    conn: Connection, feed: FeedRow, error: str, now: datetime, settings: Settings, *,
    http_status: int | None = None, wait_until: datetime | None = None,
) -> str:
    """A failed fetch or an unreadable feed: count it, back off, disable past the limit; returns the error."""
    count = feed.consecutive_errors + 1
    backoff = min(settings.fetch_backoff * 2 ** min(count - 1, 32), settings.fetch_max_wait)
    next_fetch = max(now + timedelta(seconds=backoff), wait_until or now)
    disabled = count >= settings.feed_disable_after
    if disabled:
        error = f"{error}; disabled after {count} errors in a row: {enable_hint(feed.source_url or feed.url)}"
    conn.execute(
        update(feeds).where(feeds.c.id == feed.id).values(
            last_fetch_at=now, last_status="error", http_status=http_status, consecutive_errors=count,
            last_error=error, next_fetch_at=next_fetch, disabled=disabled,
            # Forget the validators: a conditional GET must not turn a broken feed into "not modified".
            etag=None, last_modified=None,
        )
    )
    return error


def enable(engine: Engine, url: str) -> FeedRow:
    """Re-enable a feed (by its feeds.yaml or current address): fetched at the next run, errors forgotten."""
    with engine.begin() as conn:
        row = conn.execute(
            select(feeds.c.id).where((feeds.c.url == url) | (feeds.c.source_url == url))
        ).first()
        if row is None:
            raise NotFound(f"no stored feed has the address {url}; `curator feeds` lists them")
        conn.execute(
            update(feeds).where(feeds.c.id == row.id).values(disabled=False, consecutive_errors=0, next_fetch_at=None)
        )
        return next(f for f in feed_rows(conn, [url]) if f.id == row.id)


@dataclass(frozen=True)
class FeedHealth:
    """One line of `curator feeds`."""

    url: str
    fetched_from: str
    title: str | None
    status: str  # ok, not_modified, error or never
    disabled: bool
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    next_fetch_at: datetime | None
    consecutive_errors: int
    last_error: str | None
    items_30d: int
    items_total: int

    def as_json(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def health(engine: Engine, urls: list[str], now: datetime) -> list[FeedHealth]:
    """Health of each feed of feeds.yaml (`urls`), in that order; a feed never fetched says so."""
    since = now - timedelta(days=30)
    with engine.connect() as conn:
        rows = {row.source_url or row.url: row for row in conn.execute(select(feeds))}
        recent = dict(
            conn.execute(
                select(item_sources.c.feed_id, func.count())
                .join(items, items.c.id == item_sources.c.item_id)
                .where(items.c.published_at >= since)
                .group_by(item_sources.c.feed_id)
            ).all()
        )
        total = dict(
            conn.execute(select(item_sources.c.feed_id, func.count()).group_by(item_sources.c.feed_id)).all()
        )
    out = []
    for url in urls:
        row = rows.get(url)
        if row is None:
            out.append(FeedHealth(url, url, None, "never", False, None, None, None, 0, None, 0, 0))
            continue
        out.append(FeedHealth(
            url, row.url, row.title, row.last_status or "never", row.disabled, row.last_fetch_at,
            row.last_success_at, row.next_fetch_at, row.consecutive_errors, row.last_error,
            recent.get(row.id, 0), total.get(row.id, 0),
        ))
    return out
