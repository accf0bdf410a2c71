"""The list's growth per week: confirmed, unsubscribed and bounced, for the ops console's chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, select

from curator.store.schema import subscribers, suppressions


@dataclass(frozen=True)
class Week:
    start: date  # a Monday
    confirmed: int = 0
    unsubscribed: int = 0
    bounced: int = 0


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def growth(conn: Connection, today: date, weeks: int = 12) -> list[Week]:
    """`weeks` weeks ending with this one, oldest first; bounces include spam complaints."""
    first = _monday(today) - timedelta(weeks=weeks - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    counts: dict[date, dict[str, int]] = {first + timedelta(weeks=i): {} for i in range(weeks)}

    def tally(kind: str, moments) -> None:
        for moment in moments:
            week = _monday(moment.date())
            if week in counts:
                counts[week][kind] = counts[week].get(kind, 0) + 1

    tally("confirmed", conn.execute(
        select(subscribers.c.confirmed_at).where(subscribers.c.confirmed_at >= since)).scalars())
    tally("unsubscribed", conn.execute(
        select(subscribers.c.unsubscribed_at).where(subscribers.c.unsubscribed_at >= since)).scalars())
    tally("bounced", conn.execute(
        select(suppressions.c.created_at)
        .where(suppressions.c.created_at >= since, suppressions.c.reason.in_(("bounced", "complained")))).scalars())
    return [Week(start, **found) for start, found in counts.items()]
