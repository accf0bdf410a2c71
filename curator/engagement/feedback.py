"""A reader's "more like this" / "less like this" on a pick: one vote per recipient and pick, the last counts.

The email's links open a page (GET changes nothing: mail scanners open every link); its
button posts the vote. The vote is stored with the pick and with the pick's source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from curator.config import Settings
from curator.engagement.clicks import resolve
from curator.errors import BadToken
from curator.store.schema import feedback, feeds, issues, items, picks
from curator.tokens import read_link_token

VOTES = {"more": 1, "less": -1}


@dataclass(frozen=True)
class PickAbout:
    """What the feedback page shows about the pick, and the vote already given."""

    title: str
    source: str
    period: str
    test_copy: bool  # a copy off the ledger (a test send): votes are not stored
    vote: str  # "more", "less" or ""


def about(conn: Connection, settings: Settings, token: str, pick_id: int) -> PickAbout:
    """The pick a feedback link names (BadToken if forged), and this reader's vote on it."""
    target = resolve(conn, read_link_token(settings, token), pick_id)
    row = conn.execute(
        select(items.c.title, feeds.c.title.label("source"), issues.c.period)
        .select_from(picks.join(items, items.c.id == picks.c.item_id).join(issues, issues.c.id == picks.c.issue_id))
        .outerjoin(feeds, feeds.c.id == items.c.feed_id)
        .where(picks.c.id == target.pick_id)
    ).one()
    given = None
    if target.delivery_id is not None:
        given = conn.execute(
            select(feedback.c.vote).where(
                feedback.c.delivery_id == target.delivery_id, feedback.c.pick_id == target.pick_id
            )
        ).scalar()
    vote = {1: "more", -1: "less"}.get(given or 0, "")
    return PickAbout(row.title, row.source or "", row.period, target.delivery_id is None, vote)


def vote(conn: Connection, settings: Settings, token: str, pick_id: int, choice: str) -> PickAbout:
    """Store the reader's vote (replacing an earlier one); the page's POST calls this."""
    if choice not in VOTES:
        raise BadToken(f"{choice!r} is not a choice here: use the page's buttons (more or less like this)")
    target = resolve(conn, read_link_token(settings, token), pick_id)
    if target.delivery_id is not None:
        feed_id = conn.execute(
            select(items.c.feed_id).join(picks, picks.c.item_id == items.c.id).where(picks.c.id == target.pick_id)
        ).scalar()
        row = {
            "issue_id": target.issue_id, "pick_id": target.pick_id, "delivery_id": target.delivery_id,
            "feed_id": feed_id, "vote": VOTES[choice], "at": datetime.now(UTC),
        }  # fmt: skip
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(feedback)
            .values(row)
            .on_conflict_do_update(
                index_elements=["delivery_id", "pick_id"], set_={"vote": row["vote"], "at": row["at"]}
            )
        )
    return about(conn, settings, token, pick_id)
