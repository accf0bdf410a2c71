"""Source health for the desk: per feed, what it brought, what editors kept, what readers did with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, case, func, select

from curator.engagement.figures import source_counts
from curator.store.schema import feeds, items, picks


@dataclass
class SourceHealth:
    feed_id: int
    title: str
    url: str
    disabled: bool
    last_success_at: datetime | None
    items: int
    approved: int
    rejected: int
    delivered: int  # pick deliveries: its picks times their issues' recipients
    clicks: int  # unique human clicks on its picks
    more: int
    less: int

    @property
    def approval_rate(self) -> float | None:
        decided = self.approved + self.rejected
        return self.approved / decided if decided else None

    @property
    def click_rate(self) -> float | None:
        return self.clicks / self.delivered if self.delivered else None


def source_health(conn: Connection) -> list[SourceHealth]:
    """Every feed with its figures, the busiest first."""
    item_counts = dict(conn.execute(select(items.c.feed_id, func.count()).group_by(items.c.feed_id)).all())
    decisions = {
        feed_id: (approved, rejected)
        for feed_id, approved, rejected in conn.execute(
            select(
                items.c.feed_id,
                func.sum(case((picks.c.decision == "approved", 1), else_=0)),
                func.sum(case((picks.c.decision == "rejected", 1), else_=0)),
            )
            .join(items, items.c.id == picks.c.item_id)
            .group_by(items.c.feed_id)
        )
    }
    readers = source_counts(conn)
    out = []
    for row in conn.execute(select(feeds).order_by(feeds.c.title, feeds.c.url)):
        approved, rejected = decisions.get(row.id, (0, 0))
        counts = readers.get(row.id, {"delivered": 0, "clicks": 0, "more": 0, "less": 0})
        out.append(
            SourceHealth(
                row.id, row.title or row.url, row.url, row.disabled, row.last_success_at,
                item_counts.get(row.id, 0), int(approved or 0), int(rejected or 0), **counts,
            )  # fmt: skip
        )
    out.sort(key=lambda s: (-s.items, s.title))
    return out
