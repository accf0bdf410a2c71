"""The ledger: freeze once, claim by variant, skip who left, settle every row exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update

from curator import deliver, subscribers
from curator.deliver import ledger
from curator.errors import CuratorError, IllegalTransition
from curator.store.schema import deliveries, events, issues, now, send_batches, suppressions
from tests.deliver.helpers import PERIOD, add_audience, make_issue


def _counts(engine, issue_id):
    with engine.connect() as conn:
        return ledger.counts(conn, issue_id)


def _claim(engine, issue_id, size=1000):
    with engine.begin() as conn:
        return ledger.claim(conn, issue_id, size=size, worker="test", lease_seconds=60)


def test_freeze_adds_each_subscriber_once(engine, issue):
    add_audience(engine, 30, variants=3)
    started = deliver.start(engine, PERIOD, "test")
    assert started.frozen == 30 and not started.resumed
    with engine.begin() as conn:
        assert ledger.freeze(conn, issue) == 0  # again: nothing new
        assert conn.execute(select(issues.c.status).where(issues.c.id == issue)).scalar() == "sending"
    again = deliver.start(engine, PERIOD, "test")  # a second `curator send` continues the same send
    assert again.resumed and again.frozen == 0
    assert _counts(engine, issue)["pending"] == 30
    add_audience(engine, 2, prefix="late")  # a later freeze of the same issue adds only who is new
    with engine.begin() as conn:
        assert ledger.freeze(conn, issue) == 2
        assert ledger.freeze(conn, issue) == 0
    assert _counts(engine, issue)["pending"] == 32


def test_freeze_leaves_out_the_unconfirmed_unsubscribed_and_suppressed(engine, issue):
    keep = add_audience(engine, 5, prefix="ok")
    add_audience(engine, 3, status="pending", prefix="unconfirmed")
    add_audience(engine, 2, status="unsubscribed", prefix="gone")
    add_audience(engine, 2, status="bounced", prefix="bounced")
    blocked = add_audience(engine, 2, prefix="blocked")
    with engine.begin() as conn:
        conn.execute(insert(suppressions),
                     [{"email": e, "reason": "complained", "detail": "", "created_at": now()} for e in blocked])
    deliver.start(engine, PERIOD, "test")
    with engine.connect() as conn:
        frozen = set(conn.execute(select(deliveries.c.email).where(deliveries.c.issue_id == issue)).scalars())
    assert frozen == set(keep)


def test_a_claim_takes_one_variant_and_at_most_the_batch_size(engine, issue):
    add_audience(engine, 25, variants=2)
    deliver.start(engine, PERIOD, "test")
    first = _claim(engine, issue, size=10)
    assert len(first.rows) == 10
    with engine.connect() as conn:
        variants = set(conn.execute(select(deliveries.c.variant).where(deliveries.c.batch_key == first.key)).scalars())
        batch = conn.execute(select(send_batches).where(send_batches.c.key == first.key)).mappings().one()
    assert variants == {first.variant}
    assert batch["state"] == "inflight" and batch["size"] == 10 and batch["lease_until"] > now()
    keys = {first.key}
    while (claim := _claim(engine, issue, size=10)) is not None:
        assert claim.key not in keys
        keys.add(claim.key)
    with engine.connect() as conn:
        per_batch = conn.execute(
            select(deliveries.c.batch_key, func.count(), func.count(func.distinct(deliveries.c.variant)))
            .where(deliveries.c.issue_id == issue)
            .group_by(deliveries.c.batch_key)
        ).all()
    assert all(n <= 10 and v == 1 for _, n, v in per_batch)
    assert _counts(engine, issue)["inflight"] == 25


def test_who_leaves_after_the_freeze_is_skipped_at_claim(engine, issue):
    emails = add_audience(engine, 6, variants=1)
    deliver.start(engine, PERIOD, "test")
    with engine.begin() as conn:
        subscribers.unsubscribe(conn, subscribers.lookup(conn, emails[0])["id"])
        subscribers.suppress(conn, emails[1], "bounced", "test")
    claim = _claim(engine, issue)
    assert claim.skipped == 2
    assert {r.email for r in claim.rows} == set(emails[2:])
    assert _counts(engine, issue)["skipped"] == 2


def test_outcomes_are_recorded_once_and_late_answers_change_nothing(engine, issue):
    add_audience(engine, 4, variants=1)
    deliver.start(engine, PERIOD, "test")
    claim = _claim(engine, issue)
    with engine.begin() as conn:
        assert ledger.record_accepted(conn, claim.key, status=202, message_id="m1") == 4
        assert ledger.record_failed(conn, claim.key, status=500, error="late") == 0
        assert ledger.mark_uncertain(conn, claim.key, error="late", decide_after=0) == 0
    assert _counts(engine, issue)["sent"] == 4


def test_a_silent_worker_leaves_an_uncertain_batch_that_events_confirm(engine, issue):
    add_audience(engine, 5, variants=1)
    deliver.start(engine, PERIOD, "test")
    claim = _claim(engine, issue)
    _expire(engine, claim.key)
    with engine.begin() as conn:
        assert ledger.expire_leases(conn, issue, decide_after=0) == [claim.key]
    assert _counts(engine, issue)["uncertain"] == 5
    with engine.begin() as conn:
        conn.execute(insert(events).values(sg_event_id="e1", event="processed", email="reader0@example.com",
                                           issue_id=issue, batch_key=claim.key, payload={}))
        decided = ledger.reconcile(conn, issue, policy="resend", max_attempts=5, cancelled=False)
    assert decided == {"confirmed": 5, "resent": 0, "given_up": 0}
    assert _counts(engine, issue)["sent"] == 5


@pytest.mark.parametrize("policy, state", [("resend", "pending"), ("give_up", "failed")])
def test_an_uncertain_batch_without_events_follows_the_policy(engine, issue, policy, state):
    add_audience(engine, 5, variants=1)
    deliver.start(engine, PERIOD, "test")
    claim = _claim(engine, issue)
    with engine.begin() as conn:
        ledger.mark_uncertain(conn, claim.key, error="no answer", decide_after=0)
        decided = ledger.reconcile(conn, issue, policy=policy, max_attempts=5, cancelled=False)
        batch_state = conn.execute(select(send_batches.c.state).where(send_batches.c.key == claim.key)).scalar()
    assert decided["resent" if policy == "resend" else "given_up"] == 5
    assert batch_state == ("resent" if policy == "resend" else "abandoned")
    assert _counts(engine, issue)[state] == 5


def test_resend_stops_after_max_attempts(engine, issue):
    add_audience(engine, 3, variants=1)
    deliver.start(engine, PERIOD, "test")
    for _ in range(2):
        claim = _claim(engine, issue)
        with engine.begin() as conn:
            ledger.mark_uncertain(conn, claim.key, error="no answer", decide_after=0)
            ledger.reconcile(conn, issue, policy="resend", max_attempts=2, cancelled=False)
    assert _counts(engine, issue)["failed"] == 3


def test_pause_cancel_and_retry(engine, issue):
    add_audience(engine, 6, variants=1)
    deliver.start(engine, PERIOD, "test")
    deliver.pause(engine, PERIOD, "test")
    with pytest.raises(CuratorError, match="curator resume 2026-05"):
        deliver.start(engine, PERIOD, "test")
    deliver.resume(engine, PERIOD, "test")
    claim = _claim(engine, issue, size=2)
    with engine.begin() as conn:
        ledger.record_failed(conn, claim.key, status=400, error="SendGrid answered 400: bad")
    assert deliver.retry(engine, PERIOD, "test") == 2
    assert deliver.cancel(engine, PERIOD, "test") == 6
    assert _counts(engine, issue)["cancelled"] == 6
    with pytest.raises(IllegalTransition):
        deliver.resume(engine, PERIOD, "test")


def test_only_an_approved_issue_is_sent(engine):
    make_issue(engine, "2026-06")
    with engine.begin() as conn:
        conn.execute(update(issues).where(issues.c.period == "2026-06").values(status="draft"))
    with pytest.raises(CuratorError, match="curator approve 2026-06"):
        deliver.start(engine, "2026-06", "test")


def _expire(engine, key):
    with engine.begin() as conn:
        conn.execute(update(send_batches).where(send_batches.c.key == key)
                     .values(lease_until=now() - timedelta(seconds=1)))


def test_pause_and_cancel_take_effect_between_batches(settings, engine, issue):
    add_audience(engine, 30, variants=1)
    small = settings.model_copy(update={"send_batch_size": 10})
    deliver.start(engine, PERIOD, "test")

    def pause_after_first(report):
        if report.batches == 1:
            deliver.pause(engine, PERIOD, "ops")

    first = deliver.Worker(small, engine, on_progress=pause_after_first).run(once=True)
    # The batch in hand finishes; batches claimed but not yet posted go back to pending.
    assert first.sent == 10
    assert _counts(engine, issue)["pending"] == 30 - first.sent
    deliver.resume(engine, PERIOD, "ops")

    def cancel_now(report):
        if report.batches == 1:
            deliver.cancel(engine, PERIOD, "ops")

    second = deliver.Worker(small, engine, on_progress=cancel_now).run()
    counts = _counts(engine, issue)
    assert counts["sent"] == first.sent + second.sent
    assert (counts["sent"], counts["cancelled"]) == (20, 10)
    with engine.connect() as conn:
        assert conn.execute(select(issues.c.status)).scalar() == "cancelled"
