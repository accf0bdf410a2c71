"""SendGrid's events: kept once, suppress bad addresses, confirm uncertain batches, count per issue."""

from __future__ import annotations

from sqlalchemy import select

from curator import deliver, events
from curator.deliver import ledger
from curator.store.schema import events as events_table
from curator.store.schema import subscribers, suppressions
from tests.deliver.helpers import PERIOD, add_audience


def _event(kind, email, n, **extra):
    return {"email": email, "event": kind, "timestamp": 1767225600, "sg_event_id": f"{kind}-{n}",
            "issue": PERIOD, **extra}  # fmt: skip


def _apply(engine, batch):
    with engine.begin() as conn:  # as the webhook does: apply, then the ledger settles the batches named
        applied = events.apply(conn, batch)
        applied.confirmed_rows = ledger.confirm_batches(conn, applied.batch_keys)
        return applied


def _status(engine, email):
    with engine.connect() as conn:
        status = conn.execute(select(subscribers.c.status).where(subscribers.c.email == email)).scalar()
        reason = conn.execute(select(suppressions.c.reason).where(suppressions.c.email == email)).scalar()
    return status, reason


def test_each_event_is_kept_once(engine, issue):
    add_audience(engine, 1)
    batch = [_event("delivered", "reader0@example.com", 1), _event("open", "reader0@example.com", 2)]
    first = _apply(engine, batch)
    again = _apply(engine, batch + [_event("click", "reader0@example.com", 3)])
    assert (first.new, first.duplicates) == (2, 0)
    assert (again.new, again.duplicates) == (1, 2)
    with engine.connect() as conn:
        kept = conn.execute(select(events_table.c.sg_event_id).order_by(events_table.c.id)).scalars().all()
    assert kept == ["delivered-1", "open-2", "click-3"]


def test_bounces_complaints_and_unsubscribes_suppress_the_address(engine, issue):
    emails = add_audience(engine, 6)
    _apply(engine, [
        _event("bounce", emails[0], 1, type="bounce", reason="550 5.1.1 no such user"),
        _event("spamreport", emails[1], 2),
        _event("unsubscribe", emails[2], 3),
        _event("group_unsubscribe", emails[3], 4, asm_group_id=1),
        _event("dropped", emails[4], 5, reason="Bounced Address"),
        _event("bounce", emails[5], 6, type="blocked", reason="try again later"),
    ])  # fmt: skip
    assert _status(engine, emails[0]) == ("bounced", "bounced")
    assert _status(engine, emails[1]) == ("complained", "complained")
    assert _status(engine, emails[2]) == ("unsubscribed", "unsubscribed")
    assert _status(engine, emails[3]) == ("unsubscribed", "unsubscribed")
    assert _status(engine, emails[4]) == ("bounced", "bounced")
    assert _status(engine, emails[5]) == ("active", None)  # a temporary block is not a dead address


def test_an_event_naming_a_batch_confirms_its_rows(engine, issue):
    add_audience(engine, 4, variants=1)
    deliver.start(engine, PERIOD, "test")
    with engine.begin() as conn:
        claim = ledger.claim(conn, issue, size=10, worker="w", lease_seconds=60)
        ledger.mark_uncertain(conn, claim.key, error="no answer", decide_after=600)
    applied = _apply(engine, [_event("processed", "reader0@example.com", 1, batch=claim.key, delivery="1")])
    assert applied.confirmed_rows == 4
    with engine.connect() as conn:
        assert ledger.counts(conn, issue)["sent"] == 4


def test_deliverability_counts_per_issue(engine, issue):
    emails = add_audience(engine, 3)
    _apply(engine, [
        _event("delivered", emails[0], 1), _event("delivered", emails[1], 2), _event("open", emails[0], 3),
        _event("open", emails[0], 4), _event("click", emails[1], 5), _event("bounce", emails[2], 6, type="bounce"),
        _event("spamreport", emails[0], 7), _event("unsubscribe", emails[1], 8),
    ])  # fmt: skip
    with engine.connect() as conn:
        counts = events.issue_counts(conn, issue)
    assert counts == {"delivered": 2, "bounced": 1, "dropped": 0, "opened": 1, "clicked": 1, "complained": 1,
                      "unsubscribed": 1}  # fmt: skip
