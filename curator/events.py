"""SendGrid's Event Webhook: verify the signature, keep each event once, apply what it says.

Every event carries the custom_args of its message: `issue`, `batch` (the ledger's batch
key) and `delivery`. An event naming a batch proves SendGrid accepted that batch's request,
which is how a batch left uncertain (no answer, or its worker died) is reconciled.
Bounces, spam reports, unsubscribes and drops for the address suppress it for good.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import sqlite

from curator.config import Settings
from curator.engagement import clicks
from curator.errors import ConfigError, CuratorError
from curator.store.schema import events, issues, now
from curator.subscribers import suppress_many

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
# SendGrid retries a post for up to 24 hours; an older signature is a replay. Clocks drift a little.
SIGNATURE_MAX_AGE = 24 * 3600 + 300
SIGNATURE_FUTURE_SKEW = 300
# SendGrid's events are a list of flat objects (a few hold a list or an object): 4 levels; 8 is generous.
MAX_DEPTH = 8
# What each suppressing event means for the address (see `_suppression` for drops and bounces).
SUPPRESSING = {"spamreport": "complained", "unsubscribe": "unsubscribed", "group_unsubscribe": "unsubscribed"}
COUNTED = {  # per-issue deliverability: our name -> SendGrid's event names
    "delivered": ("delivered",),
    "bounced": ("bounce",),
    "dropped": ("dropped",),
    "opened": ("open",),
    "clicked": ("click",),
    "complained": ("spamreport",),
    "unsubscribed": ("unsubscribe", "group_unsubscribe"),
}


class BadEvents(CuratorError):
    """A webhook post that is not a JSON list of event objects."""


@dataclass
class Applied:
    received: int = 0
    new: int = 0
    duplicates: int = 0
    suppressed: int = 0
    batch_keys: list[str] = field(default_factory=list)  # named by new events: the ledger settles them
    confirmed_rows: int = 0  # set by the ledger when it settles `batch_keys`


@lru_cache(maxsize=4)
def _verifier(public_key: str):
    from sendgrid.helpers.eventwebhook import EventWebhook

    try:
        return EventWebhook(public_key)
    except ValueError as exc:
        raise ConfigError(
            f"CURATOR_SENDGRID_WEBHOOK_PUBLIC_KEY is not a public key ({exc}): paste the verification key "
            "from SendGrid's Mail Settings > Event Webhook, base64 without the BEGIN/END lines"
        ) from None


def refusal(settings: Settings) -> str | None:
    """Why the endpoint takes no posts at all (no key, no opt-in), or None when it takes them."""
    if settings.sendgrid_webhook_public_key or settings.webhook_allow_unsigned:
        return None
    return (
        "the event webhook is not configured: set CURATOR_SENDGRID_WEBHOOK_PUBLIC_KEY to the verification key of "
        "SendGrid's signed Event Webhook (Settings > Mail Settings > Event Webhook > Signature verification); "
        "CURATOR_WEBHOOK_ALLOW_UNSIGNED=true takes unsigned posts, for local testing only"
    )


def verify(
    settings: Settings, payload: bytes, signature: str | None, timestamp: str | None, *, at: float | None = None
) -> str | None:
    """What is wrong with a post's signature, or None when it is SendGrid's and recent.

    Without a key, only the explicit opt-in (CURATOR_WEBHOOK_ALLOW_UNSIGNED) lets a post through.
    A signature older than SendGrid's retry window is a replay, however valid.
    """
    if not settings.sendgrid_webhook_public_key:
        return None if settings.webhook_allow_unsigned else refusal(settings)
    if not signature or not timestamp:
        return "unsigned: the signature headers are missing"
    try:
        signed_at = int(timestamp)
    except ValueError:
        return "the signature's timestamp is not a number"
    age = (time.time() if at is None else at) - signed_at
    if age > SIGNATURE_MAX_AGE or age < -SIGNATURE_FUTURE_SKEW:
        return f"the signature's timestamp is {age / 3600:+.1f} hours off: a replay, or a clock far off"
    try:
        valid = _verifier(settings.sendgrid_webhook_public_key).verify_signature(
            payload.decode("utf-8"), signature, timestamp
        )
    except (ValueError, UnicodeDecodeError):  # bad base64, bad DER in the signature
        valid = False
    return None if valid else "the signature does not match"


def parse(payload: bytes) -> list[dict[str, Any]]:
    """The events of one post, or BadEvents saying what is wrong with it."""
    try:
        data = json.loads(payload)
    except RecursionError:  # thousands of nested brackets: not an event list, and not worth a 500
        raise BadEvents("the event webhook body is nested too deeply to be SendGrid's event list") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadEvents(f"the event webhook body is not JSON: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise BadEvents("the event webhook body must be a JSON list of event objects, as SendGrid posts")
    if _depth(data) > MAX_DEPTH:
        raise BadEvents(f"the event webhook body is nested more than {MAX_DEPTH} levels deep; SendGrid's is not")
    return data


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in `value`, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:  # deeper than that is refused anyway: stop looking
                stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def apply(
    conn: Connection, batch: list[dict[str, Any]], *, click_machine_seconds: float = 10.0,
    scanner_networks: tuple[str, ...] = (),
) -> Applied:
    """Store each event once (by sg_event_id) and act on the new ones, a few statements per post.

    The events go in as one multi-row INSERT ... ON CONFLICT DO NOTHING; what it returns are the
    new ones. Their batch keys are recorded in `Applied.batch_keys` for the ledger to settle
    (`deliver.ledger.confirm_batches`), and their suppressions are applied in post order.
    A new click event is counted as a pick's click unless Curator's redirect already counted it
    (curator.engagement.clicks); the settings' click rules come in as the keyword arguments.
    """
    result = Applied(received=len(batch))
    issue_ids = _issue_ids(conn, batch)
    received_at = now()
    when = _memo(_when)
    rows: dict[str, dict[str, Any]] = {}  # by sg_event_id, first one wins, as one at a time did
    for event in batch:
        row = _row(event, issue_ids, received_at, when)
        rows.setdefault(row["sg_event_id"], row)
    fresh = _insert_new(conn, list(rows.values()))
    result.new = len(fresh)
    result.duplicates = result.received - result.new
    keys: dict[str, None] = {}  # ordered set
    wanted: list[tuple[str, str, str]] = []
    for row in rows.values():
        if row["sg_event_id"] not in fresh:
            continue
        if row["batch_key"]:
            keys[row["batch_key"]] = None
        event = row["payload"]
        if row["event"] == "click":
            clicks.record_sendgrid_click(
                conn, event, machine_seconds=click_machine_seconds, extra_networks=scanner_networks
            )
        email = str(event.get("email") or "").strip().lower()  # not cut to the column's width, as before
        reason = _suppression(row["event"], event)
        if reason and email:
            wanted.append((email, reason, f"SendGrid {row['event']}: {_detail(event)}"[:500]))
    result.batch_keys = list(keys)
    result.suppressed = suppress_many(conn, wanted) if wanted else 0
    return result


def _issue_ids(conn: Connection, batch: list[dict[str, Any]]) -> dict[str, int]:
    periods = {e.get("issue") for e in batch if isinstance(e.get("issue"), str)}
    if not periods:
        return {}
    return dict(conn.execute(select(issues.c.period, issues.c.id).where(issues.c.period.in_(periods))).all())


def _row(event: dict[str, Any], issue_ids: dict[str, int], received_at: datetime, when) -> dict[str, Any]:
    kind = str(event.get("event") or "")
    email = str(event.get("email") or "").strip().lower()
    period = event.get("issue") if isinstance(event.get("issue"), str) else None
    key = event.get("batch") if isinstance(event.get("batch"), str) else None
    return {
        "sg_event_id": _event_id(event), "event": kind[:50], "email": email[:320],
        "issue_id": issue_ids.get(period) if period else None, "batch_key": key[:64] if key else None,
        "occurred_at": when(_stamp(event.get("timestamp"))), "received_at": received_at, "payload": event,
    }  # fmt: skip


COLUMNS = ("sg_event_id", "event", "email", "issue_id", "batch_key", "occurred_at", "received_at", "payload")
TIMES = ("occurred_at", "received_at")
CHUNK = 500  # rows per SQLite statement: 4,000 parameters, under every SQLite's limit
# PostgreSQL takes the whole post as one JSON parameter, unpacked in the server. Ids are drawn
# in post order, then the rows go in sorted by sg_event_id: posts in flight together that
# repeat the same events take their locks in one order, so they wait for each other instead of
# deadlocking.
PG_INSERT = (
    "WITH post AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('events', 'id')) AS id, t.* "
    "FROM json_to_recordset(%s::json) AS t(sg_event_id text, event text, email text, issue_id int, "
    "batch_key text, occurred_at timestamp, received_at timestamp, payload json)) "
    f"INSERT INTO events (id, {', '.join(COLUMNS)}) SELECT id, {', '.join(COLUMNS)} FROM post "
    "ORDER BY sg_event_id ON CONFLICT (sg_event_id) DO NOTHING RETURNING sg_event_id"
)


def _insert_new(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the rows not stored yet; the sg_event_ids of those inserted.

    INSERT ... ON CONFLICT DO NOTHING RETURNING, sent through the driver: SQLAlchemy's per-row
    parameter machinery cost more than the database did for a 1,000-event post. SQLite gets one
    multi-row VALUES per 500 rows (each value through its column's bind processor); PostgreSQL
    one JSON document of all rows (psycopg escapes big arrays or statements slowly, in Python).
    """
    if conn.dialect.name == "postgresql":
        return set(conn.exec_driver_sql(PG_INSERT, (_pg_document(rows),)).scalars())
    processors = [_memo(proc) if c in TIMES else proc for c, proc in zip(COLUMNS, _sqlite_processors(), strict=True)]
    fresh: set[str] = set()
    for first in range(0, len(rows), CHUNK):
        chunk = rows[first : first + CHUNK]
        params = tuple(
            value if proc is None else proc(value)
            for row in chunk
            for value, proc in zip((row[c] for c in COLUMNS), processors, strict=True)
        )
        fresh.update(conn.exec_driver_sql(_sqlite_insert(len(chunk)), params).scalars())
    return fresh


def _pg_document(rows: list[dict[str, Any]]) -> str:
    def stamp(moment: datetime | None) -> str | None:  # naive UTC, as UTCDateTime stores it
        return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None).isoformat()

    return json.dumps([row | {"occurred_at": stamp(row["occurred_at"]), "received_at": stamp(row["received_at"])}
                       for row in rows])  # fmt: skip


def _memo(process):
    """A bind processor that works each distinct value out once: a post shares a few dozen times."""
    done: dict[Any, Any] = {}

    def memo(value: Any) -> Any:
        if value not in done:
            done[value] = process(value)
        return done[value]

    return memo


@lru_cache(maxsize=1)
def _sqlite_processors() -> list:
    dialect = sqlite.dialect()
    return [events.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in COLUMNS]


@lru_cache(maxsize=8)
def _sqlite_insert(n: int) -> str:
    one = "(" + ", ".join("?" for _ in COLUMNS) + ")"
    return (
        f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES {', '.join([one] * n)} "
        "ON CONFLICT (sg_event_id) DO NOTHING RETURNING sg_event_id"
    )


def _suppression(kind: str, event: dict[str, Any]) -> str | None:
    if kind in SUPPRESSING:
        return SUPPRESSING[kind]
    if kind == "bounce":
        # "blocked" is a temporary refusal by the receiving server, not a dead address.
        return None if str(event.get("type") or "").lower() == "blocked" else "bounced"
    if kind == "dropped":
        reason = str(event.get("reason") or "").lower()
        if "unsubscribe" in reason:
            return "unsubscribed"
        if "spam report" in reason:
            return "complained"
        if "bounce" in reason or "invalid" in reason:
            return "bounced"
        return None  # dropped for the message (e.g. spam content), not for the address
    return None


def _detail(event: dict[str, Any]) -> str:
    return str(event.get("reason") or event.get("response") or event.get("type") or "").strip() or "no detail"


def _event_id(event: dict[str, Any]) -> str:
    """SendGrid's sg_event_id; for an event without one, a digest of the event, so a replay is a duplicate."""
    given = event.get("sg_event_id")
    if isinstance(given, str) and given:
        return given[:200]
    return "sha256:" + hashlib.sha256(json.dumps(event, sort_keys=True, default=str).encode()).hexdigest()


def _stamp(stamp: Any) -> Any:
    """The timestamp as a key for `_when`'s memo: unhashable values (a list, an object) as their text."""
    return stamp if isinstance(stamp, (int, float, str)) or stamp is None else repr(stamp)


def _when(stamp: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(stamp), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def issue_counts(conn: Connection, issue_id: int) -> dict[str, int]:
    """Deliverability of an issue: distinct addresses per kind of event."""
    found = dict(
        conn.execute(
            select(events.c.event, func.count(func.distinct(events.c.email)))
            .where(events.c.issue_id == issue_id)
            .group_by(events.c.event)
        ).all()
    )
    return {name: sum(int(found.get(kind, 0)) for kind in kinds) for name, kinds in COUNTED.items()}
