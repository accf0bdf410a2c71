"""A person's data: everything stored about an address, and erasing it.

`forget` deletes the subscriber, their clicks on picks and their "more/less like this"
votes, and strips the address and name from the send ledger and the provider's events
(their counts and batch keys stay, for the send's records).
The suppression row is kept only when the address bounced or complained: it holds the
bare address so Curator never mails it again, which the person's own interest and the
sender's reputation both require. An "unsubscribed" suppression is deleted with the rest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, or_, select, update

from curator.errors import InvalidAddress, NotFound
from curator.store.schema import clicks, deliveries, events, feedback, issues, subscribers, suppressions
from curator.subscribers._addresses import normalize_email
from curator.subscribers._lifecycle import PERMANENT_REASONS, find, suppression

# Event payload fields that say nothing about the person; every other field is dropped.
EVENT_KEYS_KEPT = (
    "event", "sg_event_id", "sg_message_id", "timestamp", "type", "category", "batch_key", "issue", "sg_machine_open",
)  # fmt: skip


def _address(text: str) -> str:
    """The address as stored; a malformed one (from old events) is still looked up as typed."""
    try:
        return normalize_email(text)
    except InvalidAddress:
        return text.strip().lower()


def _plain(row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def _ledger_where(email: str, subscriber_id: int | None):
    clause = deliveries.c.email == email
    return or_(clause, deliveries.c.subscriber_id == subscriber_id) if subscriber_id is not None else clause


def export_data(conn: Connection, address: str) -> dict:
    """Everything stored about an address: subscriber row, suppression, deliveries, events."""
    email = _address(address)
    sub = find(conn, email)
    ledger = conn.execute(
        select(deliveries, issues.c.period)
        .join(issues, issues.c.id == deliveries.c.issue_id)
        .where(_ledger_where(email, sub["id"] if sub else None))
        .order_by(deliveries.c.id)
    ).mappings()
    found = conn.execute(
        select(events).where(func.lower(events.c.email) == email).order_by(events.c.id)
    ).mappings()
    theirs = select(deliveries.c.id).where(_ledger_where(email, sub["id"] if sub else None))
    their_clicks = conn.execute(
        select(clicks.c.pick_id, clicks.c.at, clicks.c.human, clicks.c.reason, clicks.c.source)
        .where(clicks.c.delivery_id.in_(theirs)).order_by(clicks.c.id)
    ).mappings()  # fmt: skip
    their_votes = conn.execute(
        select(feedback.c.pick_id, feedback.c.vote, feedback.c.at).where(feedback.c.delivery_id.in_(theirs))
    ).mappings()
    blocked = suppression(conn, email)
    data = {
        "email": email,
        "subscriber": _plain(sub) if sub else None,
        "suppression": _plain(blocked) if blocked else None,
        "deliveries": [_plain(dict(row)) for row in ledger],
        "events": [_plain(dict(row)) for row in found],
        "clicks": [_plain(dict(row)) for row in their_clicks],
        "feedback": [_plain(dict(row)) for row in their_votes],
    }
    if not (data["subscriber"] or data["suppression"] or data["deliveries"] or data["events"]):
        raise NotFound(f"Curator stores nothing about {email}")
    return data


def forget(conn: Connection, address: str) -> dict:
    """Erase what is stored about an address (see the module docstring); returns what was done."""
    email = _address(address)
    sub = find(conn, email)
    where = _ledger_where(email, sub["id"] if sub else None)
    # A pending ledger row of a forgotten person must never be sent: it has no address left.
    skipped = conn.execute(
        update(deliveries).where(where, deliveries.c.state == "pending").values(state="skipped", error="forgotten")
    ).rowcount
    theirs = select(deliveries.c.id).where(where)
    erased_clicks = conn.execute(delete(clicks).where(clicks.c.delivery_id.in_(theirs))).rowcount
    erased_votes = conn.execute(delete(feedback).where(feedback.c.delivery_id.in_(theirs))).rowcount
    ledger = conn.execute(update(deliveries).where(where).values(email="", name="", subscriber_id=None)).rowcount
    scrubbed = 0
    for row in conn.execute(select(events.c.id, events.c.payload).where(func.lower(events.c.email) == email)).all():
        payload = {k: v for k, v in (row.payload or {}).items() if k in EVENT_KEYS_KEPT}
        conn.execute(update(events).where(events.c.id == row.id).values(email="", payload=payload))
        scrubbed += 1
    blocked = suppression(conn, email)
    kept = blocked is not None and blocked["reason"] in PERMANENT_REASONS
    if blocked is not None and not kept:
        conn.execute(delete(suppressions).where(suppressions.c.email == email))
    if sub is not None:
        conn.execute(delete(subscribers).where(subscribers.c.id == sub["id"]))
    if sub is None and not ledger and not scrubbed and blocked is None:
        raise NotFound(f"Curator stores nothing about {email}")
    return {
        "email": email,
        "subscriber_deleted": sub is not None,
        "deliveries_anonymized": ledger,
        "deliveries_skipped": skipped,
        "events_anonymized": scrubbed,
        "clicks_deleted": erased_clicks,
        "feedback_deleted": erased_votes,
        "suppression": ("kept: " + blocked["reason"]) if kept else ("deleted" if blocked else "none"),
        "subscriber_id": sub["id"] if sub else None,
    }
