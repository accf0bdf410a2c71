"""The scheduled jobs on a real database: the send's policies (once, approved, on time) and the draft's email."""

from __future__ import annotations

import email
import pickle
import threading
from datetime import UTC, datetime, timedelta
from email.policy import default as email_policy
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, func, inspect, select, update

from curator import editorial
from curator.store.schema import alerts, audit_log, deliveries, issues, picks, send_batches
from scheduler import daemon, jobs
from scheduler.schedule import JOBSTORE_TABLE
from tests.deliver.helpers import PERIOD, add_audience, make_issue
from tests.newsroom import seed, write_feeds_yaml

DUE = datetime(2026, 5, 5, 9, 0, tzinfo=UTC)  # the first Tuesday of May 2026, 09:00 UTC: PERIOD's send
AUDIENCE = 7


@pytest.fixture
def job_settings(settings):
    return settings.model_copy(update={"ops_emails": ["ops@example.com"], "editor_emails": ["editor@example.com"]})


def outbox(settings, prefix: str) -> list[Path]:
    folder = Path(settings.outbox_dir)
    return sorted(folder.glob(f"{prefix}*.eml")) if folder.exists() else []


def messages_to(settings, address: str) -> list[email.message.EmailMessage]:
    found = []
    for path in outbox(settings, "transactional-"):
        message = email.message_from_bytes(path.read_bytes(), policy=email_policy)
        if message["To"] == address:
            found.append(message)
    return found


def count(engine, query) -> int:
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def audit_count(engine, action: str) -> int:
    return count(engine, select(func.count()).where(audit_log.c.action == action))


def open_alerts(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(alerts).order_by(alerts.c.id)).mappings()]


def status_of(engine, period: str = PERIOD) -> str:
    with engine.connect() as conn:
        return conn.execute(select(issues.c.status).where(issues.c.period == period)).scalar_one()


def assert_sent_once(settings, engine) -> None:
    """One freeze, every recipient in one batch attempt, one .eml each."""
    assert audit_count(engine, "send.freeze") == 1
    assert audit_count(engine, "issue.sending") == 1
    with engine.connect() as conn:
        rows = conn.execute(select(deliveries.c.state, deliveries.c.attempts, deliveries.c.email)).all()
        batch_sizes = conn.execute(select(func.sum(send_batches.c.size))).scalar_one()
    assert len(rows) == AUDIENCE
    assert {(state, attempts) for state, attempts, _ in rows} == {("sent", 1)}
    assert batch_sizes == AUDIENCE
    files = outbox(settings, f"{PERIOD}-")
    assert len(files) == AUDIENCE
    recipients = [email.message_from_bytes(p.read_bytes(), policy=email_policy)["To"] for p in files]
    assert len(set(recipients)) == AUDIENCE
    assert status_of(engine) == "sent"


def test_stopping_the_scheduler_leaves_its_engine_to_the_owner(job_settings, engine):
    """APScheduler's job store used to dispose the daemon's engine at shutdown, under the heartbeat
    thread's feet: a connection that thread held went back into a discarded pool and stayed open."""
    scheduler = daemon.build_scheduler(job_settings, engine)
    pool = engine.pool
    with engine.connect() as heartbeat:  # checked out across the shutdown, as the heartbeat's may be
        scheduler.remove_jobstore("default")  # what shutdown() does to each job store
        heartbeat.execute(select(1))
    assert engine.pool is pool and pool.checkedin() >= 1


def test_the_send_job_fired_twice_sends_once(job_settings, engine):
    make_issue(engine)
    add_audience(engine, AUDIENCE)
    assert jobs.send(job_settings, engine, now=DUE + timedelta(seconds=2)) == "started"
    assert jobs.send(job_settings, engine, now=DUE + timedelta(seconds=3)) == "already_started"
    jobs.deliver(job_settings, engine)
    assert jobs.send(job_settings, engine, now=DUE + timedelta(minutes=5)) == "already_started"
    assert jobs.deliver(job_settings, engine) is None  # nothing left to do
    assert_sent_once(job_settings, engine)
    assert open_alerts(engine) == []


def test_the_send_job_fired_concurrently_sends_once(job_settings, engine):
    make_issue(engine)
    add_audience(engine, AUDIENCE)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def fire() -> None:
        barrier.wait()
        outcomes.append(jobs.send(job_settings, engine, now=DUE + timedelta(seconds=1)))

    threads = [threading.Thread(target=fire) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["already_started"] * 3 + ["started"]
    delivering = [threading.Thread(target=jobs.deliver, args=(job_settings, engine)) for _ in range(2)]
    for t in delivering:
        t.start()
    for t in delivering:
        t.join()
    assert_sent_once(job_settings, engine)


def test_a_send_missed_by_more_than_the_grace_is_not_sent_and_ops_are_told(job_settings, engine):
    make_issue(engine)
    add_audience(engine, AUDIENCE)
    assert jobs.send(job_settings, engine, now=DUE + timedelta(hours=6, minutes=1)) == "missed"
    assert count(engine, select(func.count()).select_from(deliveries)) == 0
    assert status_of(engine) == "approved"
    [alert] = open_alerts(engine)
    assert (alert["kind"], alert["period"], alert["acknowledged"]) == ("send_missed", PERIOD, False)
    assert "CURATOR_SEND_GRACE_HOURS=6" in alert["message"] and "6.0 hours later" in alert["message"]
    [mail] = messages_to(job_settings, "ops@example.com")
    assert "missed" in mail["Subject"] and PERIOD in mail["Subject"]
    assert messages_to(job_settings, "editor@example.com") == []


def test_a_send_late_within_the_grace_goes_out(job_settings, engine):
    make_issue(engine)
    add_audience(engine, AUDIENCE)
    assert jobs.send(job_settings, engine, now=DUE + timedelta(hours=5, minutes=59)) == "started"
    jobs.deliver(job_settings, engine)
    assert_sent_once(job_settings, engine)


def test_an_unapproved_issue_is_not_sent_and_ops_and_editors_are_told(job_settings, engine):
    make_issue(engine)
    add_audience(engine, AUDIENCE)
    with engine.begin() as conn:
        editorial.transition(conn, PERIOD, "in_review", "editor@example.com", reason="reopened")
    assert jobs.send(job_settings, engine, now=DUE) == "unapproved"
    assert jobs.deliver(job_settings, engine) is None
    assert count(engine, select(func.count()).select_from(deliveries)) == 0
    assert status_of(engine) == "in_review"
    [alert] = open_alerts(engine)
    assert alert["kind"] == "send_unapproved" and "in_review, not approved" in alert["message"]
    assert len(messages_to(job_settings, "ops@example.com")) == 1
    assert len(messages_to(job_settings, "editor@example.com")) == 1
    assert outbox(job_settings, f"{PERIOD}-") == []


def test_auto_approve_approves_the_top_picks_and_sends(job_settings, engine):
    make_issue(engine)
    add_audience(engine, AUDIENCE)
    with engine.begin() as conn:
        editorial.transition(conn, PERIOD, "in_review", "editor@example.com")
        conn.execute(update(picks).values(decision="suggested"))
    auto = job_settings.model_copy(update={"auto_approve": True})
    assert jobs.send(auto, engine, now=DUE) == "started"
    jobs.deliver(auto, engine)
    assert_sent_once(auto, engine)
    assert count(engine, select(func.count()).where(picks.c.decision == "approved")) > 0
    with engine.connect() as conn:
        approved_by = conn.execute(select(issues.c.approved_by)).scalar_one()
    assert approved_by == "scheduler"
    assert open_alerts(engine) == []


def test_auto_approve_with_nothing_to_approve_alerts_instead(job_settings, engine):
    make_issue(engine)
    with engine.begin() as conn:
        editorial.transition(conn, PERIOD, "in_review", "editor@example.com")
        conn.execute(update(picks).values(decision="rejected"))
    auto = job_settings.model_copy(update={"auto_approve": True})
    assert jobs.send(auto, engine, now=DUE) == "unapproved"
    assert status_of(engine) == "in_review"
    [alert] = open_alerts(engine)
    assert "could not be approved automatically" in alert["message"]


def test_no_issue_and_a_cancelled_issue(job_settings, engine):
    assert jobs.send(job_settings, engine, now=DUE) == "no_issue"
    assert [a["kind"] for a in open_alerts(engine)] == ["send_no_issue"]
    make_issue(engine)
    with engine.begin() as conn:
        editorial.transition(conn, PERIOD, "cancelled", "ops@example.com")
    assert jobs.send(job_settings, engine, now=DUE) == "cancelled"
    assert count(engine, select(func.count()).select_from(deliveries)) == 0


def test_the_draft_job_drafts_the_next_send_and_emails_the_editors(job_settings, engine, tmp_path):
    feeds = write_feeds_yaml(tmp_path)
    at = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    seed(engine, at=at)
    settings = job_settings.model_copy(update={"feeds": feeds})
    assert jobs.draft(settings, engine, now=at) == "2026-12"  # the next send: Tuesday 1 December
    assert count(engine, select(func.count()).select_from(picks)) > 0
    [mail] = messages_to(settings, "editor@example.com")
    assert mail["Subject"] == "The December 2026 issue is ready for review"
    body = mail.get_body(("plain",)).get_content()
    assert "https://news.example.org/desk/2026-12" in body
    assert "Tue 2026-12-01 09:00" in body


def run_daemon_until(settings, engine, done) -> None:
    """Run the scheduler daemon in a thread until `done()` is true (or a minute passed), then stop it."""
    stop = threading.Event()
    runner = threading.Thread(target=daemon.run, args=(settings, engine, stop))
    runner.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while not done() and datetime.now(UTC) < deadline:
            stop.wait(0.05)
    finally:
        stop.set()
        runner.join()


def stored_jobs(engine) -> dict[str, dict]:
    if not inspect(engine).has_table(JOBSTORE_TABLE):
        return {}
    table = Table(JOBSTORE_TABLE, MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        return {row.id: pickle.loads(row.job_state) for row in conn.execute(select(table))}


def test_a_send_missed_while_no_scheduler_ran_is_alerted_when_one_starts(job_settings, engine):
    """The stored next run survives the restart (replace_existing alone would drop it) and misfires."""
    make_issue(engine)
    add_audience(engine, AUDIENCE)
    settings = job_settings.model_copy(update={"scheduler_heartbeat_seconds": 0.1, "scheduler_delivers": False})
    run_daemon_until(settings, engine, lambda: len(stored_jobs(engine)) == 3)
    # Then no scheduler ran while the send was due: the stored job still waits for a run two days ago.
    past = datetime.now(UTC) - timedelta(days=2)
    state = stored_jobs(engine)["send"] | {"next_run_time": past}
    table = Table(JOBSTORE_TABLE, MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == "send")
                     .values(job_state=pickle.dumps(state), next_run_time=past.timestamp()))

    run_daemon_until(settings, engine, lambda: open_alerts(engine))
    [alert] = open_alerts(engine)
    assert alert["kind"] == "send_missed"
    assert count(engine, select(func.count()).select_from(deliveries)) == 0
    assert status_of(engine) == "approved"
    assert stored_jobs(engine)["send"]["next_run_time"] > datetime.now(UTC)  # and the next month's send stands


RSS = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>Local Careers</title><link>https://local.example/</link>
<item><title>How to prepare for a job interview</title><link>https://local.example/interview</link>
<description>Interview questions and the job search.</description><pubDate>{date}</pubDate></item>
<item><title>Negotiating a salary</title><link>https://local.example/salary</link>
<description>A career guide to salary talks.</description><pubDate>{date}</pubDate></item>
</channel></rss>
"""


def test_the_ingest_job_fetches_the_feeds_of_feeds_yaml(job_settings, engine, tmp_path):
    from email.utils import format_datetime

    from curator.store.schema import feeds, items

    feed = tmp_path / "local.xml"
    feed.write_text(RSS.format(date=format_datetime(datetime.now(UTC))), encoding="utf-8")
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "topics:\n  - name: career\n    keywords: [career, interview, salary]\n"
        f"feeds:\n  - url: {feed.as_uri()}\n    title: Local Careers\n", encoding="utf-8",
    )
    settings = job_settings.model_copy(update={"feeds": config, "allow_file_feeds": True})
    report = jobs.ingest(settings, engine)
    assert report.new_items == 2 and not report.errors
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(items)).scalar_one() == 2
        assert conn.execute(select(feeds.c.last_success_at)).scalar_one() is not None


@pytest.mark.slow
def test_the_real_scheduler_fires_the_send_every_two_seconds_and_sends_once(job_settings, engine, tmp_path):
    """`python -m scheduler` end to end: the send job fires again and again; one freeze, one email each."""
    from tests.scheduler.test_leader import Daemon, wait_for

    moment = datetime.now(job_settings.tz)
    periods = {f"{moment:%Y-%m}", f"{moment + timedelta(minutes=1):%Y-%m}"}  # a run just before midnight on the 31st
    for period in periods:
        make_issue(engine, period=period)
    add_audience(engine, AUDIENCE)
    daemon_ = Daemon(
        job_settings.database_url, tmp_path / "scheduler.log", CURATOR_SCHEDULE_SEND="second=*/2",
        CURATOR_OUTBOX_DIR=str(job_settings.outbox_dir), CURATOR_SECRET_KEY=job_settings.secret_key,
        CURATOR_BASE_URL=job_settings.base_url, CURATOR_FEEDS=str(job_settings.feeds),
    )
    try:
        wait_for("the issue is sent", lambda: count(engine, select(func.count()).where(issues.c.status == "sent")),
                 [daemon_])
        wait_for("the send job fires again after the send", lambda: daemon_.text().count("not sending it again") >= 2,
                 [daemon_])
        assert daemon_.stop() == 0
    finally:
        daemon_.close()
    assert audit_count(engine, "send.freeze") == 1
    with engine.connect() as conn:
        sent = conn.execute(select(issues.c.period).where(issues.c.status == "sent")).scalar_one()
        states = conn.execute(select(deliveries.c.state, deliveries.c.attempts)).all()
    assert len(states) == AUDIENCE and set(states) == {("sent", 1)}
    assert len(outbox(job_settings, f"{sent}-")) == AUDIENCE


def test_a_late_send_job_after_ops_sent_by_hand_raises_no_alert(job_settings, engine):
    make_issue(engine)
    add_audience(engine, AUDIENCE)
    assert jobs.start(job_settings, engine, PERIOD) == "started"  # ops' Send now, the day before
    assert jobs.send(job_settings, engine, now=DUE + timedelta(hours=8)) == "missed"
    assert open_alerts(engine) == []
    assert audit_count(engine, "send.freeze") == 1
