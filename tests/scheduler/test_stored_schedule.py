"""The schedule ops edit in the console: stored in the database, over the environment, picked up without a restart.

The pick-up is tested on a real `python -m scheduler` process: the schedule is changed in the
database while it leads, and its job store must follow.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text

from curator import editorial, store
from curator.config import Settings
from curator.errors import ConfigError
from scheduler import outlook, stored
from scheduler.schedule import JOBS_BY_ID, next_fire_times, trigger_for
from tests.scheduler.test_leader import Daemon, held_by, wait_for

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_the_stored_schedule_overrides_the_environment_and_goes_back(engine, settings):
    assert stored.effective(settings, engine).schedule_send == settings.schedule_send
    with engine.begin() as conn:
        assert stored.save(conn, settings, "send", "  day=2nd  wed hour=7 ", "ops@example.org") == "day=2nd wed hour=7"
    assert stored.effective(settings, engine).schedule_send == "day=2nd wed hour=7"
    with engine.begin() as conn, pytest.raises(ConfigError, match="day_of_week='1' uses a number"):
        stored.save(conn, settings, "send", "day_of_week=1 hour=9", "ops@example.org")
    with engine.begin() as conn:
        assert stored.save(conn, settings, "send", "", "ops@example.org") is None  # back to the environment
    assert stored.effective(settings, engine).schedule_send == settings.schedule_send


def test_the_next_send_in_words(engine, settings):
    said = outlook.next_send(settings, engine, NOW)
    assert said.words == "Tue 1 Dec 09:00 — December 2026 — no draft yet (this blocks the send)" and not said.ready
    with engine.begin() as conn:
        editorial.ensure_issue(conn, "2026-12", "test")
    assert outlook.next_send(settings, engine, NOW).words == (
        "Tue 1 Dec 09:00 — December 2026 — not approved yet (this blocks the send)")
    with engine.begin() as conn:
        stored.save(conn, settings, "send", "day=3 hour=18 minute=30", "ops@example.org")
    assert outlook.next_send(settings, engine, NOW).words.startswith("Thu 3 Dec 18:30 — December 2026")


def _stored_send_time(engine) -> float | None:
    """The send job's stored next run, or None while the new leader has not created its job table yet."""
    if not inspect(engine).has_table("apscheduler_jobs"):
        return None
    with engine.connect() as conn:
        return conn.execute(text("SELECT next_run_time FROM apscheduler_jobs WHERE id = 'send'")).scalar()


@pytest.mark.slow
def test_a_running_scheduler_picks_up_a_change_without_a_restart(db_url, tmp_path):
    engine = store.make_engine(db_url)
    daemon = Daemon(db_url, tmp_path / "scheduler.log", CURATOR_SCHEDULER_DELIVERS="false")
    try:
        wait_for("the scheduler leads", lambda: held_by(engine, daemon.pid), [daemon])
        before = wait_for("the send job is stored", lambda: _stored_send_time(engine), [daemon])
        settings = Settings(database_url=db_url)
        with engine.begin() as conn:
            stored.save(conn, settings, "send", "month=2 day=14 hour=6 minute=45", "ops@example.org")
        expected = next_fire_times(trigger_for(stored.effective(settings, engine), JOBS_BY_ID["send"]),
                                   datetime.now(UTC), 1)[0].timestamp()
        assert expected != before
        wait_for("the running scheduler reschedules the send", lambda: _stored_send_time(engine) == expected, [daemon])
        assert "the send job now runs at" in daemon.text()
        assert daemon.stop() == 0
    finally:
        daemon.close()
        engine.dispose()
