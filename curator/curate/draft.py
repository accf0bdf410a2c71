"""Draft assembly: the best-scored candidates per topic become an issue's suggested picks.

Running it again keeps every pick and decision as it is and only adds candidates, up to
each topic's quota plus spares (rejected picks do not count, so rejecting makes room).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from curator import editorial, embed, pagekind
from curator.config import Settings
from curator.curate import readers, reputation, taste
from curator.curate.duplicates import Stories, also_covered_by
from curator.curate.lexical import Doc, Score, gc_paused
from curator.curate.score import Context, score_items
from curator.engagement.figures import kind_counts, source_counts
from curator.sources import Sources
from curator.store.schema import feeds, issues, item_scores, items, picks
from curator.store.schema import now as utcnow

_to_json = json.JSONEncoder(separators=(",", ":")).encode  # one encoder: json.dumps(...) builds one per call


@dataclass
class TopicDraft:
    name: str
    quota: int
    candidates: int = 0  # picks not rejected, after this run
    added: int = 0


@dataclass
class DraftResult:
    period: str
    since: datetime
    scored_items: int
    topics: list[TopicDraft] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(t.added for t in self.topics)


def build_draft(
    engine: Engine,
    settings: Settings,
    sources: Sources,
    period: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> DraftResult:
    """Score the window's items and add the best candidates to `period`'s issue."""
    now = now or utcnow()
    editorial.parse_period(period)
    with engine.begin() as conn:
        issue = editorial.ensure_issue(conn, period, actor)
        editorial.require_editable(issue)
        since = window_start(conn, issue["id"], now, settings.draft_window_days)
        taste.retrain(conn)  # a no-op unless decisions changed since the stored model
        with gc_paused():
            docs = load_docs(conn, since)
            scores = score_docs(conn, sources, settings, docs, now)
            store_scores(conn, since, scores)
        topics = assemble(conn, issue["id"], sources, settings, scores, {doc.id: doc for doc in docs}, since)
        result = DraftResult(period=period, since=since, scored_items=len(docs), topics=topics)
        editorial.audit(conn, actor, "issue.draft", period, f"{result.added} candidates added")
    return result


def window_start(conn: Connection, issue_id: int, now: datetime, days: int) -> datetime:
    """Items count from the last sent issue, or from `days` ago when none was sent."""
    last_sent = conn.execute(
        select(func.max(issues.c.sent_at)).where(issues.c.status == "sent", issues.c.id != issue_id)
    ).scalar()
    return last_sent if last_sent is not None else now - timedelta(days=days)


def load_docs(conn: Connection, since: datetime) -> list[Doc]:
    """The window's items as scoring sees them, each with its stored vector."""
    rows = conn.execute(
        select(
            items.c.id, items.c.title, items.c.summary_text, items.c.published_at, items.c.feed_id,
            items.c.title_key, items.c.url, items.c.embedding, items.c.kind, items.c.kind_confidence,
            items.c.kind_value, items.c.kind_version,
        )
        .where(items.c.published_at >= since, items.c.manual.is_(False))
        .order_by(items.c.id)
    )
    docs = [Doc(*row[:8], kind=tuple(row[8:])) for row in rows]
    return classify_missing(conn, embed_missing(conn, docs))


def embed_missing(conn: Connection, docs: list[Doc]) -> list[Doc]:
    """Vectors for items stored before ingest computed them (migration 0005), stored once."""
    missing = [n for n, doc in enumerate(docs) if not doc.vector]
    if not missing:
        return docs
    vectors = embed.embed([embed.item_text(docs[n].title, docs[n].summary) for n in missing])
    for n, vector in zip(missing, vectors, strict=True):
        docs[n] = docs[n]._replace(vector=embed.to_bytes(vector))
    conn.execute(
        update(items).where(items.c.id == bindparam("item_id")).values(embedding=bindparam("blob")),
        [{"item_id": docs[n].id, "blob": docs[n].vector} for n in missing],
    )
    return docs


def classify_missing(conn: Connection, docs: list[Doc]) -> list[Doc]:
    """Kinds for items stored before 0005, or by an older page-kind model, stored once."""
    current = pagekind.version()
    stale = [n for n, doc in enumerate(docs) if not doc.kind or doc.kind[3] != current]
    if not stale:
        return docs
    vectors = embed.stack([docs[n].vector for n in stale])
    found = pagekind.predict([(docs[n].url, docs[n].title, docs[n].summary) for n in stale], vectors)
    for n, (name, confidence, value) in zip(stale, found, strict=True):
        docs[n] = docs[n]._replace(kind=(name, confidence, value, current))
    conn.execute(
        update(items).where(items.c.id == bindparam("item_id")).values(
            kind=bindparam("k"), kind_confidence=bindparam("c"), kind_value=bindparam("v"), kind_version=current
        ),
        [{"item_id": docs[n].id, "k": docs[n].kind[0], "c": docs[n].kind[1], "v": docs[n].kind[2]} for n in stale],
    )
    return docs


def score_docs(conn: Connection, sources: Sources, settings: Settings, docs: list[Doc], now: datetime) -> list[Score]:
    context = Context(
        now=now,
        half_life_days=settings.freshness_half_life_days,
        source_weights=source_weights(conn, sources),
        decisions=reputation.by_source(conn),
        taste=taste.for_scoring(conn),
        readers=readers_interest(conn),
    )
    return score_items(docs, sources.topics, context)


def readers_interest(conn: Connection) -> readers.Readers | None:
    """What readers did with the picks of sent issues, per source and per kind (people only); None before any."""
    by_source, by_kind = source_counts(conn), kind_counts(conn)
    if not by_source and not by_kind:
        return None
    return readers.Readers.of(
        {key: readers.ReaderCounts(**counts) for key, counts in by_source.items()},
        {key: readers.ReaderCounts(**counts) for key, counts in by_kind.items()},
    )


def source_weights(conn: Connection, sources: Sources) -> dict[int, float]:
    """Each feed's weight: feeds.yaml's when it lists the feed, else the stored one."""
    declared = {feed.url: feed.weight for feed in sources.feeds}
    rows = conn.execute(select(feeds.c.id, feeds.c.source_url, feeds.c.url, feeds.c.weight))
    return {
        fid: declared.get(source_url or url, declared.get(url, weight if weight is not None else 1.0))
        for fid, source_url, url, weight in rows
    }


def store_scores(conn: Connection, since: datetime, scores: list[Score]) -> None:
    """Replace the window's stored scores with `scores`."""
    window = select(items.c.id).where(items.c.published_at >= since).scalar_subquery()
    conn.execute(delete(item_scores).where(item_scores.c.item_id.in_(window)))
    if not scores:
        return
    # A draft stores ~100k scores: one driver-level executemany, with the JSON encoded here, is
    # several times faster than insert(item_scores) and its per-row parameter processing.
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    parts = mark if conn.dialect.name == "sqlite" else f"CAST({mark} AS JSON)"
    conn.exec_driver_sql(
        f"INSERT INTO {item_scores.name} (item_id, topic, score, parts) VALUES ({mark}, {mark}, {mark}, {parts})",
        [(s.item_id, s.topic, s.score, _to_json(s.parts)) for s in scores],
    )


def ranked(scores: list[Score], topic_order: dict[str, int]) -> list[Score]:
    """Best first; ties broken by item then topic order, so the ranking never wavers."""
    # Three stable sorts on C-level keys: by topic order, then item, then score (descending).
    out = sorted(scores, key=lambda s: topic_order.get(s.topic, len(topic_order)))
    out.sort(key=itemgetter(0))
    out.sort(key=itemgetter(2), reverse=True)
    return out


def assemble(
    conn: Connection,
    issue_id: int,
    sources: Sources,
    settings: Settings,
    scores: list[Score],
    docs: dict[int, Doc],
    since: datetime,
) -> list[TopicDraft]:
    """Add candidates greedily, best score first, under quota, diversity and no-repeat rules."""
    existing = conn.execute(
        select(picks.c.item_id, picks.c.topic, picks.c.decision, picks.c.rank, items.c.feed_id, items.c.title_key,
               items.c.embedding)
        .join(items, items.c.id == picks.c.item_id)
        .where(picks.c.issue_id == issue_id)
    ).all()
    taken = {row.item_id for row in existing}
    stories = Stories()
    for row in existing:
        stories.add(row.embedding)
    keys = {row.title_key for row in existing if row.title_key}
    blocked, blocked_keys = used_elsewhere(conn, issue_id, since - timedelta(days=settings.draft_window_days))
    count: Counter = Counter()
    per_source: Counter = Counter()
    next_rank: Counter = Counter()
    for row in existing:
        next_rank[row.topic] = max(next_rank[row.topic], row.rank)
        if row.decision != "rejected":
            count[row.topic] += 1
            if row.feed_id is not None:
                per_source[(row.topic, row.feed_id)] += 1
    limits = {t.name: (t.quota + settings.spare_picks if t.quota else 0) for t in sources.topics}
    order = {name: i for i, name in enumerate(sources.topic_names)}
    added: list[dict] = []
    open_topics = sum(1 for t, limit in limits.items() if count[t] < limit)
    for s in ranked(scores, order):
        if not open_topics:
            break
        key, feed_id = docs[s.item_id].title_key, docs[s.item_id].feed_id
        if s.item_id in taken or s.item_id in blocked or (key and (key in keys or key in blocked_keys)):
            continue
        if s.score < settings.min_pick_score:
            break  # ranked best first: nothing below is worth suggesting
        if count[s.topic] >= limits.get(s.topic, 0):
            continue
        if feed_id is not None and per_source[(s.topic, feed_id)] >= settings.per_source_limit:
            continue
        retold, teller = stories.same_as(docs[s.item_id].vector)
        if retold:
            taken.add(s.item_id)  # one story, one pick: the best-scored telling stays
            if teller is not None:
                also_covered_by(teller, docs[s.item_id].url)
            continue
        taken.add(s.item_id)
        if key:
            keys.add(key)
        count[s.topic] += 1
        if count[s.topic] == limits[s.topic]:
            open_topics -= 1
        per_source[(s.topic, feed_id)] += 1
        next_rank[s.topic] += 1
        added.append({
            "issue_id": issue_id, "item_id": s.item_id, "topic": s.topic, "rank": next_rank[s.topic],
            "score": s.score, "parts": {**s.parts, "words": s.words} if s.words else s.parts, "decision": "suggested",
        })
        stories.add(docs[s.item_id].vector, added[-1])
    if added:
        conn.execute(insert(picks), added)
    new = Counter(row["topic"] for row in added)
    return [TopicDraft(t.name, t.quota, candidates=count[t.name], added=new[t.name]) for t in sources.topics]


def used_elsewhere(conn: Connection, issue_id: int, recent: datetime) -> tuple[set[int], set[str]]:
    """Items that another live issue sent or is about to send, and the title keys of the recent ones.

    Title keys stop the same story coming back from another feed; only recent ones count, so a
    feed's recurring title ("Links of the week") is not blocked for ever by one send.
    """
    rows = conn.execute(
        select(items.c.id, items.c.title_key, items.c.published_at)
        .join(picks, picks.c.item_id == items.c.id)
        .join(issues, issues.c.id == picks.c.issue_id)
        .where(
            picks.c.issue_id != issue_id,
            picks.c.decision == "approved",
            issues.c.status != "cancelled",
        )
    ).all()
    return {row.id for row in rows}, {row.title_key for row in rows if row.title_key and row.published_at >= recent}
