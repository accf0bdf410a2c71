"""The send ledger: one row per (issue, subscriber), and the batches they travel in.

A row's life (deliveries.state):

    pending ──claim──► inflight ──202──► sent
       ▲                  ├──400, or retries spent──► failed ──`curator retry`──► pending
       │                  ├──401/403: the send stops──► pending
       │                  └──no answer, or lease expired──► uncertain
       │                                                  ├──an event names its batch──► sent
       └────────────── no event in time, policy resend ◄──┤
                                                          └──policy give_up──► failed
    pending ──cancel──► cancelled        pending ──unsubscribed or suppressed at claim──► skipped

A batch (send_batches) is claimed and committed before its request is made; every later
write is guarded by the batch's state, so a late answer never undoes a decision.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from operator import itemgetter
from typing import Protocol

from sqlalchemy import (
    JSON,
    Connection,
    and_,
    bindparam,
    case,
    column,
    exists,
    false,
    func,
    insert,
    literal,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from curator.store.schema import deliveries as d
from curator.store.schema import events, issues, now, send_batches, subscribers, suppressions
from curator.subscribers import audience_select

OPEN_BATCH = ("inflight", "uncertain")  # a batch whose outcome is not known yet
UNFINISHED = ("pending", "inflight", "uncertain")  # rows that keep an issue from being sent


class Row(Protocol):
    """A claimed ledger row, as the claim's query returns it (a claim reads a thousand of them)."""

    id: int
    subscriber_id: int | None
    email: str
    name: str


@dataclass
class Claim:
    """Rows of one variant, in flight under one batch key."""

    key: str
    issue_id: int
    variant: str
    rows: list[Row]
    skipped: int = 0  # rows dropped at claim time: unsubscribed or suppressed since the freeze
    lease_until: object = field(default=None, repr=False)
    not_before: float | None = None  # the rate limits' slot for its first request (epoch seconds)
    end: tuple[str, int] | None = None  # (variant, last id claimed): where the next claim starts


def new_key() -> str:
    return uuid.uuid4().hex


def _dialect(conn: Connection):
    return postgresql if conn.dialect.name == "postgresql" else sqlite


# -- freeze


def freeze(conn: Connection, issue_id: int) -> int:
    """Write the audience into the ledger: one row per subscriber; again adds nothing."""
    if conn.dialect.name == "postgresql":  # a second freeze of the issue waits for this one (SQLite: BEGIN IMMEDIATE)
        conn.execute(select(issues.c.id).where(issues.c.id == issue_id).with_for_update())
    # The first freeze of an issue is a plain INSERT: on PostgreSQL, ON CONFLICT's speculative
    # insertion of each row made a million-row freeze a third slower (7.3 s against 5.5 s).
    first = not conn.execute(select(exists().where(d.c.issue_id == issue_id))).scalar()
    audience = audience_select().order_by(None).subquery()  # sorted once, below
    # Ordered by variant, so each variant's rows are neighbours and a claim reads them in one range.
    rows = (
        select(literal(issue_id), audience.c.subscriber_id, audience.c.email, audience.c.name,
               audience.c.variant, literal("pending"), literal(0))
        .where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
        .order_by(audience.c.variant, audience.c.subscriber_id)
    )  # fmt: skip
    statement = (
        _dialect(conn)
        .insert(d)
        .from_select(["issue_id", "subscriber_id", "email", "name", "variant", "state", "attempts"], rows)
    )
    if not first:
        statement = statement.on_conflict_do_nothing(index_elements=["issue_id", "subscriber_id"])
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")  # sort a million rows in memory, not on disk
        # Counted by the database in the same statement: psycopg reports rowcount -1 for this INSERT ...
        # SELECT, and counting the ledger before and after would read a million rows twice.
        inserted = statement.returning(literal(1).label("one")).cte("inserted")
        return conn.execute(select(func.count()).select_from(inserted)).scalar_one()
    return conn.execute(statement).rowcount


# -- claim


def claim(
    conn: Connection, issue_id: int, *, size: int, worker: str, lease_seconds: float,
    after: tuple[str, int] | None = None,
) -> Claim | None:
    """Take up to `size` pending rows of one variant under a new batch key; None when none is left.

    The caller commits before making any request. PostgreSQL skips rows other workers hold
    (SKIP LOCKED); SQLite has one writer at a time (BEGIN IMMEDIATE). `after` is where this
    worker's previous claim ended (variant, id): the scan starts there, past the index entries
    that claimed rows left behind on PostgreSQL, and from the start only when nothing lies beyond
    (rows put back to pending, by `curator retry` or reconciliation, sit before it).
    """
    found = _first_pending(conn, issue_id, after) if after else None
    found = found or _first_pending(conn, issue_id, None)
    if found is None:
        return None
    variant, first_id = found
    # Who unsubscribed, bounced or complained since the freeze is skipped in the same statement.
    # Joins rather than EXISTS: PostgreSQL may run an EXISTS as a hashed subplan, which reads
    # the whole subscribers table on every claim; a join looks up just the batch's rows.
    active = func.coalesce(subscribers.c.status == "active", false())
    suppressed = suppressions.c.email.is_not(None)
    picked = (
        select(d.c.id, active.label("active"), suppressed.label("suppressed"))
        .select_from(
            d.outerjoin(subscribers, subscribers.c.id == d.c.subscriber_id)
            .outerjoin(suppressions, suppressions.c.email == d.c.email)
        )
        .where(d.c.issue_id == issue_id, d.c.state == "pending", d.c.variant == variant, d.c.id >= first_id)
        .order_by(d.c.id)
        .limit(size)
    )
    if conn.dialect.name == "postgresql":
        # Materialized, so it runs once: a rescan's SKIP LOCKED would step past rows this very
        # UPDATE changed and take more than `size`.
        picked = picked.with_for_update(skip_locked=True, of=d).cte("picked").prefix_with("MATERIALIZED")
    else:
        picked = picked.cte("picked")
    ok = and_(picked.c.active, ~picked.c.suppressed)
    key = new_key()
    claimed = conn.execute(
        update(d)
        .where(d.c.id == picked.c.id, d.c.state == "pending")
        .values(
            state=case((ok, "inflight"), else_="skipped"),
            batch_key=case((ok, key), else_=None),
            attempts=case((ok, d.c.attempts + 1), else_=d.c.attempts),
            error=case((ok, None), (picked.c.suppressed, "address suppressed after the send started"),
                       else_="subscriber no longer active when the batch was claimed"),
        )  # fmt: skip
        .returning(d.c.id, d.c.subscriber_id, d.c.email, d.c.name, d.c.state)
    ).all()
    if not claimed:
        return None
    # The database's rows as they come, read by name (id, subscriber_id, email, name): making a
    # thousand tuples of our own cost a fifth of the claim's time in Python.
    rows = sorted((r for r in claimed if r.state == "inflight"), key=itemgetter(0))
    skipped = len(claimed) - len(rows)
    lease_until = now() + timedelta(seconds=lease_seconds)
    if rows:
        conn.execute(
            insert(send_batches),
            {"key": key, "issue_id": issue_id, "variant": variant, "worker": worker, "state": "inflight",
             "size": len(rows), "attempts": 0, "claimed_at": now(), "lease_until": lease_until},
        )  # fmt: skip
    end = (variant, max(r[0] for r in claimed))
    return Claim(key, issue_id, variant, rows, skipped, lease_until, end=end)


def _first_pending(conn: Connection, issue_id: int, after: tuple[str, int] | None) -> tuple[str, int] | None:
    """The first pending row (in variant, id order) no other worker holds: its variant and id."""
    query = select(d.c.variant, d.c.id).where(d.c.issue_id == issue_id, d.c.state == "pending")
    if after is not None:
        query = query.where(tuple_(d.c.variant, d.c.id) > tuple_(*after))
    query = query.order_by(d.c.variant, d.c.id).limit(1)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = conn.execute(query).first()
    return (row.variant, row.id) if row is not None else None


def extend(conn: Connection, key: str, until) -> None:
    """Keep a batch's lease while its worker retries or waits: it is not uncertain."""
    conn.execute(
        update(send_batches)
        .where(send_batches.c.key == key, send_batches.c.state == "inflight", send_batches.c.lease_until < until)
        .values(lease_until=until)
    )


def hold(conn: Connection, key: str, until) -> bool:
    """Just before a request: keep the batch's lease until at least `until`.

    False when the batch is no longer in flight: its lease ran out while it waited (behind
    another batch, a retry, a rate limit) and it went uncertain, or it was settled. Such a
    batch must not be posted: reconciliation may already have given its rows to another one.
    """
    lease = send_batches.c.lease_until
    result = conn.execute(
        update(send_batches)
        .where(send_batches.c.key == key, send_batches.c.state == "inflight")
        .values(lease_until=case((lease < until, until), else_=lease))
    )
    return result.rowcount == 1


def split(conn: Connection, claim_: Claim, *, worker: str, lease_seconds: float) -> list[Claim]:
    """A 413: the batch's rows move into two new batches of half the size."""
    split_note = "too large for one request: split in two"
    if not _close_batch(conn, claim_.key, "failed", response_status=413, error=split_note):
        return []
    half = (len(claim_.rows) + 1) // 2
    halves = []
    lease_until = now() + timedelta(seconds=lease_seconds)
    for part in (claim_.rows[:half], claim_.rows[half:]):
        key = new_key()
        conn.execute(
            update(d).where(d.c.id.in_([r.id for r in part]), d.c.batch_key == claim_.key).values(batch_key=key)
        )
        conn.execute(
            insert(send_batches),
            {"key": key, "issue_id": claim_.issue_id, "variant": claim_.variant, "worker": worker,
             "state": "inflight", "size": len(part), "attempts": 0, "claimed_at": now(), "lease_until": lease_until},
        )  # fmt: skip
        halves.append(Claim(key, claim_.issue_id, claim_.variant, part, 0, lease_until))
    return halves


# -- record


def _close_batch(conn: Connection, key: str, state: str, **values) -> bool:
    """Settle a batch still open; False when someone settled it first (events, reconciliation)."""
    result = conn.execute(
        update(send_batches)
        .where(send_batches.c.key == key, send_batches.c.state.in_(OPEN_BATCH))
        .values(state=state, finished_at=now(), **values)
    )
    return result.rowcount == 1


def record_accepted(
    conn: Connection, key: str, *, status: int | None, message_id: str | None, attempts: int = 1
) -> int:
    """The provider took the batch: its rows are sent."""
    values = {"response_status": status, "message_id": message_id, "error": None, "attempts": attempts}
    if not _close_batch(conn, key, "accepted", **values):
        return 0
    return _move_rows(conn, key, state="sent", sent_at=now(), error=None)


def record_failed(conn: Connection, key: str, *, status: int | None, error: str, attempts: int = 1) -> int:
    """Permanent (400) or retries spent: the rows fail with the provider's words."""
    if not _close_batch(conn, key, "failed", response_status=status, error=error, attempts=attempts):
        return 0
    return _move_rows(conn, key, state="failed", error=error)


def release(conn: Connection, key: str, *, status: int | None, error: str) -> int:
    """The send stops (a refused key): the rows go back to pending, as if never claimed."""
    if not _close_batch(conn, key, "failed", response_status=status, error=error):
        return 0
    return _move_rows(conn, key, state="pending", batch_key=None, attempts=d.c.attempts - 1)


def mark_uncertain(conn: Connection, key: str, *, error: str, decide_after: float) -> int:
    """No answer: the provider may have taken it; reconciliation decides after `decide_after` s."""
    result = conn.execute(
        update(send_batches)
        .where(send_batches.c.key == key, send_batches.c.state == "inflight")
        .values(state="uncertain", error=error, lease_until=now() + timedelta(seconds=decide_after))
    )
    if result.rowcount != 1:
        return 0
    return _move_rows(conn, key, state="uncertain", error=error)


def _open_rows(key: str):
    """Where-clauses for a batch's rows still open: found among its issue's open rows (the claim
    index: a few thousand at most), since deliveries has no index on batch_key (every state change
    would write one more index entry per row)."""
    issue = select(send_batches.c.issue_id).where(send_batches.c.key == key).scalar_subquery()
    return d.c.issue_id == issue, d.c.state.in_(OPEN_BATCH), d.c.batch_key == key


def _move_rows(conn: Connection, key: str, **values) -> int:
    result = conn.execute(update(d).where(*_open_rows(key)).values(**values))
    return result.rowcount or 0


def confirm_batches(conn: Connection, keys: list[str]) -> int:
    """Events name these batches: SendGrid took them. Rows of a batch still open become sent.

    Two statements for any number of keys; a key of no batch, or of a settled one, changes nothing.
    """
    if not keys:
        return 0
    closed = conn.execute(
        update(send_batches)
        .where(send_batches.c.key.in_(_json_list(conn, keys)), send_batches.c.state.in_(OPEN_BATCH))
        .values(state="accepted", finished_at=now(), error="confirmed by SendGrid's events: no answer was recorded")
        .returning(send_batches.c.key, send_batches.c.issue_id)
    ).all()  # fmt: skip
    by_issue: dict[int, list[str]] = {}
    for key, issue_id in closed:
        by_issue.setdefault(issue_id, []).append(key)
    moved = 0
    for issue_id, issue_keys in by_issue.items():  # the issue's open rows, through the claim index
        moved += conn.execute(
            update(d)
            .where(d.c.issue_id == issue_id, d.c.state.in_(OPEN_BATCH), d.c.batch_key.in_(_json_list(conn, issue_keys)))
            .values(state="sent", sent_at=now(), error=None)
        ).rowcount or 0  # fmt: skip
    return moved


def _json_list(conn: Connection, values: list[str]):
    """SELECT of `values` sent as one JSON parameter: a post names up to a thousand batches, and a
    thousand bound parameters cost more to send than the update itself."""
    document = bindparam(None, list(values), type_=JSON)
    if conn.dialect.name == "postgresql":
        return select(func.json_array_elements_text(document))
    return select(column("value")).select_from(func.json_each(document))


# -- reconcile


def expire_leases(conn: Connection, issue_id: int, *, decide_after: float) -> list[str]:
    """Batches whose worker went silent past its lease become uncertain."""
    expired = conn.execute(
        update(send_batches)
        .where(send_batches.c.issue_id == issue_id, send_batches.c.state == "inflight",
               send_batches.c.lease_until < now())
        .values(state="uncertain", lease_until=now() + timedelta(seconds=decide_after),
                error="its worker went silent during the request (lease expired)")
        .returning(send_batches.c.key)
    ).scalars().all()  # fmt: skip
    for key in expired:
        _move_rows(conn, key, state="uncertain", error="in a batch whose worker went silent")
    return list(expired)


def reconcile(conn: Connection, issue_id: int, *, policy: str, max_attempts: int, cancelled: bool) -> dict[str, int]:
    """Decide each uncertain batch whose wait is over: an event means sent; else resend or give up."""
    query = (
        select(send_batches.c.key)
        .where(send_batches.c.issue_id == issue_id, send_batches.c.state == "uncertain",
               send_batches.c.lease_until < now())
    )  # fmt: skip
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    decided = {"confirmed": 0, "resent": 0, "given_up": 0}
    for key in conn.execute(query).scalars().all():
        if conn.execute(select(exists().where(events.c.batch_key == key))).scalar():
            _close_batch(conn, key, "accepted", error="confirmed by SendGrid's events after no answer")
            decided["confirmed"] += _move_rows(conn, key, state="sent", sent_at=now(), error=None)
        elif cancelled:
            _close_batch(conn, key, "abandoned", error="no answer, no event, and the issue was cancelled")
            _move_rows(conn, key, state="cancelled")
        elif policy == "resend":
            _close_batch(conn, key, "resent", error="no answer and no event: its rows were sent again")
            # A row already claimed max_attempts times is not sent yet again.
            spent = (d.c.issue_id == issue_id, d.c.state == "uncertain", d.c.batch_key == key,
                     d.c.attempts >= max_attempts)  # fmt: skip
            decided["given_up"] += conn.execute(
                update(d).where(*spent).values(
                    state="failed", error=f"no answer from SendGrid in {max_attempts} attempts: "
                    "`curator retry` sends it again (a duplicate is possible)")
            ).rowcount or 0  # fmt: skip
            decided["resent"] += _move_rows(conn, key, state="pending", batch_key=None, error=None)
        else:
            _close_batch(conn, key, "abandoned", error="no answer and no event: given up")
            decided["given_up"] += _move_rows(
                conn, key, state="failed",
                error="SendGrid never answered nor sent an event for it: `curator retry` sends it again "
                "(a duplicate is possible)",
            )  # fmt: skip
    return decided


def next_decision(conn: Connection, issue_id: int):
    """When the earliest open batch's lease or wait ends (to sleep until then), or None."""
    return conn.execute(
        select(func.min(send_batches.c.lease_until))
        .where(send_batches.c.issue_id == issue_id, send_batches.c.state.in_(OPEN_BATCH))
    ).scalar()


# -- counts and end states


def counts(conn: Connection, issue_id: int) -> dict[str, int]:
    """Rows by state."""
    query = select(d.c.state, func.count()).where(d.c.issue_id == issue_id).group_by(d.c.state)
    found = dict(conn.execute(query).all())
    return {state: int(found.get(state, 0)) for state in
            ("pending", "inflight", "uncertain", "sent", "failed", "skipped", "cancelled")}  # fmt: skip


def unfinished(conn: Connection, issue_id: int) -> bool:
    """Whether any row still waits for an outcome."""
    return conn.execute(
        select(exists().where(d.c.issue_id == issue_id, d.c.state.in_(UNFINISHED)))
    ).scalar()


def has_pending(conn: Connection, issue_id: int) -> bool:
    return conn.execute(select(exists().where(d.c.issue_id == issue_id, d.c.state == "pending"))).scalar()


def cancel_pending(conn: Connection, issue_id: int) -> int:
    result = conn.execute(
        update(d).where(d.c.issue_id == issue_id, d.c.state == "pending").values(state="cancelled")
    )
    return result.rowcount or 0


def requeue_failed(conn: Connection, issue_id: int) -> int:
    """`curator retry`: failed rows are pending again (their error stays until the next outcome)."""
    result = conn.execute(
        update(d)
        .where(d.c.issue_id == issue_id, d.c.state == "failed")
        .values(state="pending", batch_key=None, attempts=0)
    )
    return result.rowcount or 0


def sent_since(conn: Connection, issue_id: int, since) -> int:
    return conn.execute(
        select(func.count()).where(d.c.issue_id == issue_id, d.c.state == "sent", d.c.sent_at >= since)
    ).scalar_one()
