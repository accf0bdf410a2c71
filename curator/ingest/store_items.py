"""Store: the feeds of feeds.yaml, and each feed's items, deduplicated, in one transaction per feed.

An item is unique by canonical URL (across feeds) and by GUID (within a feed). The same
story seen in another feed, by URL or by a near-identical title a few days apart, stays
one item and gains a row in item_sources: every item lists every feed it was seen in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Row, Table, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from curator.ingest.vectors import NewItem
from curator.sources import Sources
from curator.store.schema import feeds, item_sources, items

TWIN_WINDOW = timedelta(days=3)
TWIN_MIN_WORDS = 4  # shorter titles ("Weekly links", "Episode 12") are too common to merge on


@dataclass(frozen=True)
class FeedRow:
    """A feed as stored: where it is fetched now, what the last answer said, how it is doing."""

    id: int
    url: str
    source_url: str | None
    title: str | None
    etag: str | None
    last_modified: str | None
    next_fetch_at: datetime | None
    consecutive_errors: int
    disabled: bool


@dataclass  # not frozen: thousands are made per run, and frozen dataclasses are slow to build
class ItemRow:
    """One entry, normalized and sanitized, ready to insert."""

    guid: str | None
    url: str
    canonical_url: str
    title: str
    title_key: str
    summary_html: str
    summary_text: str
    author: str | None
    published_at: datetime


FEED_COLUMNS = [feeds.c[name] for name in FeedRow.__dataclass_fields__]


def insert_ignoring_conflicts(conn: Connection, table: Table):
    """INSERT … ON CONFLICT DO NOTHING, in the dialect of `conn`."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def sync_feeds(conn: Connection, sources: Sources) -> None:
    """Give every feed of feeds.yaml a row, and copy its title, topics and weight onto it."""
    rows = conn.execute(select(feeds.c.id, feeds.c.url, feeds.c.source_url, feeds.c.title, feeds.c.topics,
                               feeds.c.weight)).all()
    by_source = {row.source_url: row for row in rows if row.source_url}
    by_url = {row.url: row for row in rows}
    missing = []
    for source in sources.feeds:
        row = by_source.get(source.url) or by_url.get(source.url)
        wanted = {"source_url": source.url, "topics": source.topics, "weight": source.weight}
        if source.title:
            wanted["title"] = source.title
        if row is None:
            missing.append({"url": source.url, **wanted})
        elif any(getattr(row, key) != value for key, value in wanted.items()):
            conn.execute(update(feeds).where(feeds.c.id == row.id).values(**wanted))
    if missing:
        # Another run may insert the same feed at the same moment: then its row stands.
        conn.execute(insert_ignoring_conflicts(conn, feeds), missing)


def feed_rows(conn: Connection, urls: list[str] | None = None) -> list[FeedRow]:
    """Stored feeds, all or those whose feeds.yaml or current address is in `urls`."""
    query = select(*FEED_COLUMNS).order_by(feeds.c.id)
    if urls is not None:
        query = query.where(or_(feeds.c.source_url.in_(urls), feeds.c.url.in_(urls)))
    return [FeedRow(**row._mapping) for row in conn.execute(query)]


def save_items(conn: Connection, feed_id: int, rows: list[ItemRow]) -> list[NewItem]:
    """Store a feed's entries; returns the items that are new. Every row becomes a source of an item.

    New items are stored without their embedding and page kind: the run's Vectors stage adds them.
    """
    rows = _first_of_each(rows)
    if not rows:
        return []
    seen = _already_stored(conn, feed_id, rows)
    known = {item.canonical_url: item.id for item in seen}
    known_guids = {item.guid for item in seen if item.feed_id == feed_id and item.guid}
    sources = [(known[row.canonical_url], row.url) for row in rows if row.canonical_url in known]
    fresh = [row for row in rows if row.canonical_url not in known and row.guid not in known_guids]
    twins = _title_twins(feed_id, fresh, seen)
    sources += [(twins[row.canonical_url], row.url) for row in fresh if row.canonical_url in twins]
    fresh = [row for row in fresh if row.canonical_url not in twins]
    new: list[NewItem] = []
    if fresh:
        statement = insert_ignoring_conflicts(conn, items).returning(items.c.id, items.c.canonical_url)
        inserted = dict(conn.execute(statement, [{"feed_id": feed_id, **vars(row)} for row in fresh]).all())
        by_url = {row.canonical_url: row for row in fresh}
        new = [NewItem(item_id, by_url[canonical].url, by_url[canonical].title, by_url[canonical].summary_text)
               for item_id, canonical in inserted.items()]
        # A row not inserted was inserted by another worker meanwhile: it is a source of that item.
        lost = [row.canonical_url for row in fresh if row.canonical_url not in inserted.values()]
        if lost:
            found = conn.execute(select(items.c.id, items.c.canonical_url).where(items.c.canonical_url.in_(lost)))
            inserted.update(found.all())
        links = {row.canonical_url: row.url for row in fresh}
        sources += [(item_id, links[canonical]) for item_id, canonical in inserted.items()]
    if sources:
        conn.execute(
            insert_ignoring_conflicts(conn, item_sources),
            [{"item_id": item_id, "feed_id": feed_id, "url": url} for item_id, url in dict(sources).items()],
        )
    return new


def _first_of_each(rows: list[ItemRow]) -> list[ItemRow]:
    """One row per canonical URL and per GUID: a feed that lists an entry twice keeps the first."""
    urls: set[str] = set()
    guids: set[str] = set()
    out = []
    for row in rows:
        if row.canonical_url in urls or (row.guid and row.guid in guids):
            continue
        urls.add(row.canonical_url)
        if row.guid:
            guids.add(row.guid)
        out.append(row)
    return out


def _twin_candidates(rows: list[ItemRow]) -> list[ItemRow]:
    return [row for row in rows if len(row.title_key.split()) >= TWIN_MIN_WORDS]


def _already_stored(conn: Connection, feed_id: int, rows: list[ItemRow]) -> list[Row]:
    """In one query: items with one of these canonical URLs, this feed's items with one of these GUIDs,
    and other feeds' items with one of these titles, published around the same time."""
    wanted = [items.c.canonical_url.in_([row.canonical_url for row in rows])]
    guids = [row.guid for row in rows if row.guid]
    if guids:
        wanted.append(and_(items.c.feed_id == feed_id, items.c.guid.in_(guids)))
    candidates = _twin_candidates(rows)
    if candidates:
        wanted.append(and_(
            items.c.title_key.in_({row.title_key for row in candidates}),
            items.c.feed_id != feed_id,
            items.c.published_at.between(
                min(row.published_at for row in candidates) - TWIN_WINDOW,
                max(row.published_at for row in candidates) + TWIN_WINDOW,
            ),
        ))
    columns = [items.c.id, items.c.canonical_url, items.c.guid, items.c.feed_id, items.c.title_key,
               items.c.published_at]
    return list(conn.execute(select(*columns).where(or_(*wanted)).order_by(items.c.id)))


def _title_twins(feed_id: int, rows: list[ItemRow], seen: list[Row]) -> dict[str, int]:
    """canonical URL → id of an item of another feed with the same title key, published within days."""
    by_key: dict[str, list[Row]] = {}
    for item in seen:
        if item.feed_id is not None and item.feed_id != feed_id:
            by_key.setdefault(item.title_key, []).append(item)
    twins = {}
    for row in _twin_candidates(rows):
        for item in by_key.get(row.title_key, []):
            if abs(item.published_at - row.published_at) <= TWIN_WINDOW:
                twins[row.canonical_url] = item.id
                break
    return twins


def item_counts(conn: Connection, feed_ids: list[int]) -> dict[int, int]:
    """Items stored from each feed, its own and those it shares with other feeds."""
    if not feed_ids:
        return {}
    query = select(item_sources.c.feed_id, func.count()).where(item_sources.c.feed_id.in_(feed_ids))
    return dict(conn.execute(query.group_by(item_sources.c.feed_id)).all())


@dataclass(frozen=True)
class StoredItem:
    """An item as `curator items` shows it; topics are the hints of every feed it came from."""

    id: int
    title: str
    url: str
    canonical_url: str
    published_at: datetime
    topics: list[str]
    feeds: list[str]
    summary_html: str
    summary_text: str

    def as_json(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def stored_items(conn: Connection, *, feed_url: str | None = None, limit: int = 50) -> list[StoredItem]:
    """The newest items, all or those seen in one feed (by its feeds.yaml or current address)."""
    query = select(items).order_by(items.c.published_at.desc(), items.c.id.desc()).limit(limit)
    if feed_url is not None:
        feed_ids = select(feeds.c.id).where(or_(feeds.c.url == feed_url, feeds.c.source_url == feed_url))
        query = query.where(
            items.c.id.in_(select(item_sources.c.item_id).where(item_sources.c.feed_id.in_(feed_ids)))
        )
    rows = conn.execute(query).all()
    seen_in: dict[int, list[tuple[str, list[str]]]] = {}
    if rows:
        sources = conn.execute(
            select(item_sources.c.item_id, feeds.c.source_url, feeds.c.url, feeds.c.topics)
            .join(feeds, feeds.c.id == item_sources.c.feed_id)
            .where(item_sources.c.item_id.in_([row.id for row in rows]))
            .order_by(feeds.c.id)
        )
        for item_id, source_url, url, topics in sources:
            seen_in.setdefault(item_id, []).append((source_url or url, topics or []))
    return [
        StoredItem(
            row.id, row.title, row.url, row.canonical_url, row.published_at,
            list(dict.fromkeys(t for _, topics in seen_in.get(row.id, []) for t in topics)),
            [url for url, _ in seen_in.get(row.id, [])],
            row.summary_html, row.summary_text,
        )
        for row in rows
    ]
