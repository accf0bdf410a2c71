"""Source reputation: each feed's smoothed approval rate from editors' decisions, with a prior.

rate = (approved + PRIOR * 0.5) / (approved + rejected + PRIOR): a new source sits at 0.5
and a few decisions move it a little; the part is SCALE * (rate - 0.5), in (-1, 1).
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Connection, func, select

from curator.store.schema import items, picks

PRIOR = 4  # decisions' worth of "no opinion yet"
SCALE = 2.0
NONE_YET = "source: no decisions yet"


def rate(approved: int, rejected: int) -> float:
    return (approved + PRIOR * 0.5) / (approved + rejected + PRIOR)


def part(approved: int, rejected: int) -> float:
    return round(SCALE * (rate(approved, rejected) - 0.5), 3)


def by_source(conn: Connection) -> dict[int, tuple[int, int]]:
    """feed id -> (approved, rejected) over every issue so far."""
    counts: dict[int, Counter] = {}
    rows = conn.execute(
        select(items.c.feed_id, picks.c.decision, func.count())
        .join(items, items.c.id == picks.c.item_id)
        .where(items.c.feed_id.is_not(None), picks.c.decision.in_(("approved", "rejected")))
        .group_by(items.c.feed_id, picks.c.decision)
    )
    for feed_id, decision, count in rows:
        counts.setdefault(feed_id, Counter())[decision] = count
    return {fid: (c["approved"], c["rejected"]) for fid, c in counts.items()}


def words(approved: int, rejected: int) -> str:
    if not approved and not rejected:
        return NONE_YET
    return f"source: {approved} approved, {rejected} rejected before"
