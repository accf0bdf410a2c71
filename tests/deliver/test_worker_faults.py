"""The worker against a failing SendGrid: every subscriber accepted once, whatever comes back."""

from __future__ import annotations

import math
import time

import pytest
from sqlalchemy import insert, select

from curator import deliver, subscribers
from curator.deliver import ledger, throttle
from curator.errors import DeliveryError
from curator.store.schema import deliveries, issues, now, rate_limits, send_batches
from curator.store.schema import subscribers as subscribers_table
from curator.testing.sendgrid_server import Faults
from tests.deliver.helpers import PERIOD, add_audience


def _run(settings, engine):
    deliver.start(engine, PERIOD, "test")
    return deliver.Worker(settings, engine).run()


def _states(engine):
    with engine.connect() as conn:
        return dict(conn.execute(select(deliveries.c.state, deliveries.c.id)).all()), conn.execute(
            select(issues.c.status)
        ).scalar()


def test_with_a_fifth_of_requests_failing_everyone_is_accepted_exactly_once(sg_settings, engine, sg, issue):
    audience = add_audience(engine, 3000, variants=10)
    sg.set_faults(Faults(fail_rate=0.2, kinds=("429", "500", "503"), seed=7, reset_after_s=0.1))
    settings = sg_settings.model_copy(update={"send_batch_size": 100, "send_max_attempts": 8})
    report = _run(settings, engine)
    stats = sg.stats()
    assert set(stats["status_counts"]) == {"202", "429", "500", "503"}  # the faults did happen
    assert sorted(sg.recipients()) == sorted(audience)
    assert sg.duplicates() == {}
    assert report.sent == 3000 and report.failed == 0
    with engine.connect() as conn:
        assert conn.execute(select(issues.c.status)).scalar() == "sent"


def test_a_batch_whose_lease_ran_out_before_its_request_is_not_posted(sg_settings, engine, sg, issue):
    """A claimed batch that waited past its lease (behind another batch, a retry, a rate limit) went
    uncertain; reconciliation gives its rows to a new batch, so its worker must not post it as well."""
    audience = add_audience(engine, 5, variants=1)
    deliver.start(engine, PERIOD, "test")
    with engine.begin() as conn:
        late = ledger.claim(conn, issue, size=5, worker="slow worker", lease_seconds=-1)
    with engine.begin() as conn:
        assert ledger.expire_leases(conn, issue, decide_after=-1) == [late.key]
    deliver.Worker(sg_settings, engine).deliver(PERIOD, late)
    assert sg.stats()["requests"] == 0
    with engine.begin() as conn:
        assert ledger.reconcile(conn, issue, policy="resend", max_attempts=5, cancelled=False)["resent"] == 5
    deliver.Worker(sg_settings, engine).run()
    assert sorted(sg.recipients()) == sorted(audience)
    assert sg.duplicates() == {}


def test_nobody_suppressed_unsubscribed_or_unconfirmed_gets_the_issue(sg_settings, engine, sg, issue):
    eligible = add_audience(engine, 40, variants=2)
    add_audience(engine, 5, status="pending", prefix="unconfirmed")
    add_audience(engine, 5, status="unsubscribed", prefix="left")
    add_audience(engine, 5, status="complained", prefix="complained")
    with engine.begin() as conn:
        subscribers.suppress(conn, eligible[0], "bounced", "hard bounce before the send")
    deliver.start(engine, PERIOD, "test")
    with engine.begin() as conn:  # after the freeze, before any claim
        subscribers.unsubscribe(conn, subscribers.lookup(conn, eligible[1])["id"])
        subscribers.suppress(conn, eligible[2], "complained", "spam report mid-send")
    report = deliver.Worker(sg_settings, engine).run()
    assert sorted(sg.recipients()) == sorted(eligible[3:])
    assert report.skipped == 2
    with engine.connect() as conn:
        never = conn.execute(
            select(subscribers_table.c.email).where(subscribers_table.c.status != "active")
        ).scalars().all()
    assert not set(never) & set(sg.recipients())


def test_401_stops_the_send_with_a_clear_message(sg_settings, engine, sg, issue):
    add_audience(engine, 10, variants=1)
    settings = sg_settings.model_copy(update={"sendgrid_api_key": "SG.wrong"})
    with pytest.raises(DeliveryError, match=r"SendGrid refused the API key \(401\): check CURATOR_SENDGRID_API_KEY"):
        _run(settings, engine)
    with engine.connect() as conn:
        assert set(conn.execute(select(deliveries.c.state)).scalars()) == {"pending"}
        assert conn.execute(select(issues.c.status)).scalar() == "sending"
        assert conn.execute(select(send_batches.c.response_status)).scalars().all() == [401]
    report = deliver.Worker(sg_settings, engine).run()  # the key fixed: the same send continues
    assert report.sent == 10 and sg.duplicates() == {}


def test_403_stops_the_send_too(sg_settings, engine, sg, issue):
    add_audience(engine, 3, variants=1)
    settings = sg_settings.model_copy(update={"sendgrid_api_key": "SG.forbidden-key"})
    with pytest.raises(DeliveryError, match=r"\(403\)"):
        _run(settings, engine)
    assert sg.accepted == []


def test_400_fails_those_rows_with_sendgrids_error(sg_settings, engine, sg, issue):
    good = add_audience(engine, 6, variants=1)
    with engine.begin() as conn:  # an address SendGrid refuses, alone in its variant
        conn.execute(insert(subscribers_table).values(
            email="not-an-address", name="", topics=["leadership"], status="active", created_at=now(),
        ))  # fmt: skip
    report = _run(sg_settings, engine)
    assert sorted(sg.recipients()) == sorted(good)
    assert report.failed == 1
    with engine.connect() as conn:
        row = conn.execute(select(deliveries).where(deliveries.c.email == "not-an-address")).mappings().one()
        status = conn.execute(select(issues.c.status)).scalar()
    assert row["state"] == "failed"
    assert "SendGrid answered 400" in row["error"] and "personalizations.0.to.0.email" in row["error"]
    assert status == "sent"  # every row has an outcome; `curator retry` would try the failure again


def test_413_splits_the_batch_in_halves(sg_settings, engine, sg, issue):
    audience = add_audience(engine, 10, variants=1)
    sg.script(["413"])
    _run(sg_settings, engine)
    assert [len(m.body["personalizations"]) for m in sg.accepted] == [5, 5]
    assert sorted(sg.recipients()) == sorted(audience)
    with engine.connect() as conn:
        batches = conn.execute(select(send_batches.c.state, send_batches.c.size, send_batches.c.response_status)).all()
    expected = [("failed", 10, 413), ("accepted", 5, 202), ("accepted", 5, 202)]
    assert sorted(batches, key=str) == sorted(expected, key=str)


def test_429_waits_for_x_ratelimit_reset_and_lowers_the_shared_rate(sg_settings, engine, sg, issue):
    add_audience(engine, 4, variants=1)
    sg.set_faults(reset_after_s=1.0)
    sg.script(["429"])
    before = time.time()
    _run(sg_settings, engine)
    [accepted] = sg.accepted
    # The 429 said: not before ceil(its time + 1 s); its time was after `before`.
    assert accepted.received_at.timestamp() >= math.ceil(before + 1.0) - 1e-3
    with engine.connect() as conn:
        rate = conn.execute(select(rate_limits.c.rate).where(rate_limits.c.name == throttle.REQUESTS)).scalar()
    assert rate < sg_settings.send_rate_requests


def test_5xx_retries_then_fails_the_rows_when_attempts_are_spent(sg_settings, engine, sg, issue):
    add_audience(engine, 3, variants=1)
    sg.script(["500", "503", "500"])
    settings = sg_settings.model_copy(update={"send_max_attempts": 3})
    report = _run(settings, engine)
    assert report.failed == 3 and sg.accepted == []
    with engine.connect() as conn:
        errors = set(conn.execute(select(deliveries.c.error)).scalars())
    assert len(errors) == 1 and "gave up after 3 attempts" in errors.pop()
    assert deliver.retry(engine, PERIOD, "test") == 3
    assert deliver.Worker(settings, engine).run().sent == 3  # retried after the issue was sent
    assert len(sg.recipients()) == 3


def test_a_fresh_claim_goes_out_at_once_and_a_stalled_one_asks_the_ledger_first(sg_settings, engine, sg, issue):
    """A fresh claim goes out without another round trip; a stale one asks the ledger first, and stays unposted."""
    from datetime import timedelta

    from sqlalchemy import update

    add_audience(engine, 6, variants=1)
    deliver.start(engine, PERIOD, "ops")
    worker = deliver.Worker(sg_settings, engine)
    with engine.begin() as conn:
        fresh = ledger.claim(conn, issue, size=3, worker=worker.name, lease_seconds=sg_settings.send_lease_seconds)
        stale = ledger.claim(conn, issue, size=3, worker=worker.name, lease_seconds=sg_settings.send_lease_seconds,
                             after=fresh.end)  # fmt: skip
    with engine.begin() as conn:  # the worker stalled: another one found the second lease past and decided it
        conn.execute(update(send_batches).where(send_batches.c.key == stale.key)
                     .values(lease_until=now() - timedelta(seconds=1)))  # fmt: skip
        assert ledger.expire_leases(conn, issue, decide_after=60) == [stale.key]
    stale.lease_until = now() - timedelta(seconds=1)
    worker.deliver(PERIOD, stale)
    worker.deliver(PERIOD, fresh)
    assert sorted(sg.recipients()) == sorted(r.email for r in fresh.rows)
    with engine.connect() as conn:
        states = dict(conn.execute(select(send_batches.c.key, send_batches.c.state)).all())
    assert states == {fresh.key: "accepted", stale.key: "uncertain"}
