"""`suppress` for many addresses at once: the same outcome in a few statements (the event webhook's path)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, case, select, update
from sqlalchemy.dialects import postgresql, sqlite

from curator.errors import IllegalTransition
from curator.store.schema import now, subscribers, suppressions
from curator.subscribers._lifecycle import SUPPRESSION_RANK, TRANSITIONS


@dataclass
class _Subscriber:
    id: int
    was: str  # the status read, which guards the update
    status: str
    unsubscribed: bool = False  # moved through "unsubscribed", which stamps unsubscribed_at


def suppress_many(conn: Connection, wanted: Sequence[tuple[str, str, str]]) -> int:
    """Apply `suppress(conn, email, reason, detail)` for each entry, in order; how many changed something.

    What one call at a time would do is worked out in memory from two reads, then written with
    one statement per kind of change, guarded like `_move` by the status that was read.
    """
    for _, reason, _ in wanted:
        if reason not in SUPPRESSION_RANK:
            raise ValueError(f"unknown suppression reason {reason!r}")
    entries = [(email.strip().lower(), reason, detail) for email, reason, detail in wanted]
    emails = sorted({e for e, _, _ in entries})
    held = dict(
        conn.execute(select(suppressions.c.email, suppressions.c.reason).where(suppressions.c.email.in_(emails))).all()
    )
    # Locked as read, in id order (PostgreSQL): a post in flight beside this one that suppresses
    # the same address waits here instead of finding the status changed under it.
    read = (
        select(subscribers.c.id, subscribers.c.email, subscribers.c.status)
        .where(subscribers.c.email.in_(emails))
        .order_by(subscribers.c.id)
        .with_for_update()
    )
    subs = {email: _Subscriber(sub_id, status, status) for sub_id, email, status in conn.execute(read)}
    before = set(held)
    final: dict[str, tuple[str, str]] = {}  # email -> (reason, detail) to store
    changed = 0
    for email, reason, detail in entries:
        did = False
        if email not in held or SUPPRESSION_RANK[reason] > SUPPRESSION_RANK[held[email]]:
            held[email] = reason
            final[email] = (reason, detail)
            did = True
        sub = subs.get(email)
        if sub is not None and reason in TRANSITIONS[sub.status]:
            sub.status = reason
            sub.unsubscribed = sub.unsubscribed or reason == "unsubscribed"
            did = True
        changed += did
    _store(conn, final, before)
    _move_all(conn, sorted((s for s in subs.values() if s.status != s.was), key=lambda s: s.id))
    return changed


def _store(conn: Connection, final: dict[str, tuple[str, str]], before: set[str]) -> None:
    stamp = now()
    # Sorted, so that two posts in flight lock the same addresses in the same order.
    rows = [{"e": email, "r": reason, "d": detail} for email, (reason, detail) in sorted(final.items())]
    fresh = [
        {"email": r["e"], "reason": r["r"], "detail": r["d"], "created_at": stamp} for r in rows if r["e"] not in before
    ]
    if fresh:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(suppressions).on_conflict_do_nothing(index_elements=["email"]), fresh)
    if rows:
        # Every entry, not only the upgrades: an address another request suppressed meanwhile with a
        # weaker reason is raised here, as `suppress` does after its insert fails.
        rank = case(SUPPRESSION_RANK, value=suppressions.c.reason, else_=0)
        for row in rows:
            row["rank"] = SUPPRESSION_RANK[row["r"]]
        conn.execute(
            update(suppressions)
            .where(suppressions.c.email == bindparam("e"), rank < bindparam("rank"))
            .values(reason=bindparam("r"), detail=bindparam("d"), created_at=stamp),
            rows,
        )


def _move_all(conn: Connection, moved: list[_Subscriber]) -> None:
    stamp = now()
    for through_unsubscribed in (False, True):
        group = [{"i": s.id, "was": s.was, "to": s.status} for s in moved if s.unsubscribed == through_unsubscribed]
        if not group:
            continue
        values = {"status": bindparam("to")} | ({"unsubscribed_at": stamp} if through_unsubscribed else {})
        statement = update(subscribers).where(
            subscribers.c.id == bindparam("i"), subscribers.c.status == bindparam("was")
        )
        result = conn.execute(statement.values(**values), group)
        if conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(group):
            raise IllegalTransition(
                f"{len(group) - result.rowcount} subscriber(s) changed while suppressing them; try again"
            )
