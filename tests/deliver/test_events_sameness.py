"""The set-based `events.apply` leaves exactly what one event at a time left (the code it replaced).

The same random posts (every kind of event, repeats within and across posts, events without an
sg_event_id, batch keys of open, settled and unknown batches, addresses in any case, known and
unknown issues) go through the one-at-a-time reference and through `events.apply` plus the
ledger's settlement, from the same start inside a savepoint each; the stored events, the
suppressions, the subscribers' statuses, the ledger and the counts must be equal.
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import Connection, insert, select

from curator import deliver, events
from curator.deliver import ledger
from curator.store.schema import deliveries, send_batches, subscribers, suppressions
from curator.store.schema import events as events_table
from curator.subscribers import suppress
from tests.deliver.helpers import PERIOD, add_audience

KINDS = ("processed", "delivered", "open", "click", "bounce", "dropped", "spamreport", "unsubscribe",
         "group_unsubscribe", "deferred")  # fmt: skip
DROP_REASONS = ("Bounced Address", "Unsubscribed Address", "Spam Reporting Address", "Invalid", "Spam Content")


def one_at_a_time(conn: Connection, batch: list[dict]) -> events.Applied:
    """What `events.apply` did before it was set-based, kept here as the reference."""
    from sqlalchemy.dialects import postgresql, sqlite

    from curator.store.schema import issues, now

    result = events.Applied(received=len(batch))
    issue_ids: dict = {}
    confirmed: set[str] = set()
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for event in batch:
        kind = str(event.get("event") or "")
        email = str(event.get("email") or "").strip().lower()
        period = event.get("issue") if isinstance(event.get("issue"), str) else None
        if period is not None and period not in issue_ids:
            issue_ids[period] = conn.execute(select(issues.c.id).where(issues.c.period == period)).scalar()
        key = event.get("batch") if isinstance(event.get("batch"), str) else None
        row = {
            "sg_event_id": events._event_id(event), "event": kind[:50], "email": email[:320],
            "issue_id": issue_ids.get(period) if period else None, "batch_key": key[:64] if key else None,
            "occurred_at": events._when(event.get("timestamp")), "received_at": now(), "payload": event,
        }  # fmt: skip
        inserted = conn.execute(
            dialect.insert(events_table).values(row).on_conflict_do_nothing(index_elements=["sg_event_id"])
            .returning(events_table.c.id)
        ).first()  # fmt: skip
        if inserted is None:
            result.duplicates += 1
            continue
        result.new += 1
        if key and key not in confirmed:
            confirmed.add(key)
            result.confirmed_rows += ledger.confirm_batches(conn, [key])
        reason = events._suppression(kind, event)
        if reason and email and suppress(conn, email, reason, f"SendGrid {kind}: {events._detail(event)}"[:500]):
            result.suppressed += 1
    return result


def set_based(conn: Connection, batch: list[dict]) -> events.Applied:
    """What the webhook does now: apply, then the ledger settles the batches named."""
    applied = events.apply(conn, batch)
    applied.confirmed_rows = ledger.confirm_batches(conn, applied.batch_keys)
    return applied


def _posts(rng: random.Random, emails: list[str], keys: list[str], count: int, size: int) -> list[list[dict]]:
    sent: list[dict] = []
    posts = []
    for p in range(count):
        post = []
        for n in range(size):
            if sent and rng.random() < 0.1:
                post.append(dict(rng.choice(sent)))  # a repeat, from this post or an earlier one
                continue
            kind = rng.choice(KINDS)
            email = rng.choice(emails + ["stranger@example.net", ""])
            event = {"email": email.upper() if rng.random() < 0.1 else email, "event": kind,
                     "timestamp": 1767225600 + n, "issue": rng.choice([PERIOD, PERIOD, "1999-01", None])}  # fmt: skip
            if rng.random() < 0.9:
                event["sg_event_id"] = f"{kind}-{p}-{n}"
            if rng.random() < 0.5:
                event["batch"] = rng.choice(keys + ["no-such-batch"])
            if kind == "bounce":
                event["type"] = rng.choice(("bounce", "blocked"))
                event["reason"] = "550 5.1.1 no such user"
            elif kind == "dropped":
                event["reason"] = rng.choice(DROP_REASONS)
            post.append(event)
            sent.append(event)
        posts.append(post)
    return posts


def _snapshot(conn: Connection) -> dict:
    def rows(query):
        return [tuple(r) for r in conn.execute(query).all()]

    e = events_table
    return {
        "events": rows(select(e.c.sg_event_id, e.c.event, e.c.email, e.c.issue_id, e.c.batch_key, e.c.occurred_at,
                              e.c.payload).order_by(e.c.id)),
        "suppressions": rows(select(suppressions.c.email, suppressions.c.reason, suppressions.c.detail)
                             .order_by(suppressions.c.email)),
        "subscribers": rows(select(subscribers.c.email, subscribers.c.status, subscribers.c.unsubscribed_at.is_(None))
                            .order_by(subscribers.c.email)),
        "deliveries": rows(select(deliveries.c.subscriber_id, deliveries.c.state, deliveries.c.batch_key,
                                  deliveries.c.sent_at.is_(None), deliveries.c.error).order_by(deliveries.c.id)),
        "batches": rows(select(send_batches.c.key, send_batches.c.state, send_batches.c.error)
                        .order_by(send_batches.c.key)),
    }  # fmt: skip


def _seed(engine, issue: int) -> tuple[list[str], list[str]]:
    """Subscribers in every status, some already suppressed, and batches in flight, uncertain and settled."""
    emails = add_audience(engine, 40, variants=3)
    emails += add_audience(engine, 5, status="pending", prefix="pending")
    emails += add_audience(engine, 5, status="unsubscribed", prefix="gone")
    emails += add_audience(engine, 3, status="bounced", prefix="dead")
    with engine.begin() as conn:
        conn.execute(insert(suppressions), [
            {"email": emails[-1], "reason": "bounced", "detail": "earlier"},
            {"email": emails[-6], "reason": "unsubscribed", "detail": "earlier"},
            {"email": "stranger@example.net", "reason": "unsubscribed", "detail": "earlier"},
        ])  # fmt: skip
    deliver.start(engine, PERIOD, "test")
    keys = []
    with engine.begin() as conn:
        for n in range(6):
            claim = ledger.claim(conn, issue, size=5, worker="w", lease_seconds=60)
            keys.append(claim.key)
            if n % 3 == 0:
                ledger.mark_uncertain(conn, claim.key, error="no answer", decide_after=600)
            elif n % 3 == 1:
                ledger.record_accepted(conn, claim.key, status=202, message_id=f"m{n}")
    return emails, keys


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_set_based_apply_leaves_what_one_at_a_time_left(engine, issue, seed):
    rng = random.Random(seed)
    emails, keys = _seed(engine, issue)
    posts = _posts(rng, emails, keys, count=4, size=60)
    outcome = {}
    with engine.connect() as conn, conn.begin():
        for name, apply in (("reference", one_at_a_time), ("set_based", set_based)):
            savepoint = conn.begin_nested()
            counts = [apply(conn, post) for post in posts]
            outcome[name] = (_snapshot(conn), [(a.received, a.new, a.duplicates, a.suppressed, a.confirmed_rows)
                                               for a in counts])  # fmt: skip
            savepoint.rollback()
    reference, now_ = outcome["reference"], outcome["set_based"]
    for part in reference[0]:
        assert now_[0][part] == reference[0][part], part
    assert now_[1] == reference[1]
    assert any(c[4] for c in reference[1]) and any(c[3] for c in reference[1])  # confirmed and suppressed some


def test_posts_in_flight_together_all_go_through(engine, issue):
    """Four posts at once, repeating the same events in different orders and suppressing the same
    addresses: each waits for the others (PostgreSQL locks in one order) and every event is kept once."""
    import threading

    emails = add_audience(engine, 30)
    shared = [{"email": emails[n % 30], "event": "bounce" if n % 5 == 0 else "delivered", "type": "bounce",
               "sg_event_id": f"shared-{n}", "timestamp": 1767225600, "issue": PERIOD} for n in range(200)]  # fmt: skip
    posts = []
    for p in range(4):
        own = [{"email": emails[n % 30], "event": "open", "sg_event_id": f"own-{p}-{n}", "issue": PERIOD}
               for n in range(100)]  # fmt: skip
        post = shared + own
        random.Random(p).shuffle(post)
        posts.append(post)
    failures: list[BaseException] = []
    results: list[events.Applied] = []
    start = threading.Barrier(len(posts))

    def post_it(batch: list[dict]) -> None:
        try:
            start.wait()
            with engine.begin() as conn:
                results.append(set_based(conn, batch))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=post_it, args=(post,)) for post in posts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sum(r.new for r in results) == 200 + 4 * 100
    with engine.connect() as conn:
        kept = conn.execute(select(events_table.c.sg_event_id)).scalars().all()
        bounced = conn.execute(select(subscribers.c.email).where(subscribers.c.status == "bounced")).scalars().all()
    assert len(kept) == len(set(kept)) == 600
    assert sorted(bounced) == sorted({emails[n % 30] for n in range(0, 200, 5)})
