"""The schedule from settings: validation, and fire times across daylight-saving changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from curator.config import Settings
from curator.errors import ConfigError
from scheduler.schedule import JOBS_BY_ID, latest_fire_time, next_fire_times, parse_fields, trigger_for
from tests.conftest import REPO


def fires(zone: str, job: str, after: datetime, count: int = 12, **fields: str) -> list[datetime]:
    settings = Settings(timezone=zone, **fields)
    return next_fire_times(trigger_for(settings, JOBS_BY_ID[job]), after, count)


def offsets(times: list[datetime]) -> list[float]:
    return [t.utcoffset().total_seconds() / 3600 for t in times]


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        # London: BST from 28 March to 31 October 2027.
        ("Europe/London", [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0]),
        # New York: EDT from 14 March to 7 November 2027, so the 2 November send is still EDT.
        ("America/New_York", [-5, -5, -5, -4, -4, -4, -4, -4, -4, -4, -4, -5]),
    ],
)
def test_the_send_stays_at_nine_local_on_the_first_tuesday_across_dst(zone, expected):
    times = fires(zone, "send", datetime(2027, 1, 1, tzinfo=UTC))
    for moment in times:
        assert (moment.weekday(), moment.hour, moment.minute) == (1, 9, 0)  # Tuesday 09:00 local
        assert moment.day <= 7
    assert [t.month for t in times] == list(range(1, 13))
    assert offsets(times) == expected
    # The UTC time moves instead: 09:00 UTC in winter London, 08:00 UTC in summer.
    assert {t.astimezone(UTC).hour for t in times} == {9 - h for h in expected}


def test_the_draft_on_the_25th_around_the_march_and_october_switches():
    london = fires("Europe/London", "draft", datetime(2027, 2, 1, tzinfo=UTC), 10)
    new_york = fires("America/New_York", "draft", datetime(2027, 2, 1, tzinfo=UTC), 10)
    for moment in london + new_york:
        assert (moment.day, moment.hour, moment.minute) == (25, 9, 0)
    # 25 March: New York has switched (14 March), London not yet (28 March).
    assert (london[1].month, london[1].utcoffset()) == (3, timedelta(0))
    assert (new_york[1].month, new_york[1].utcoffset()) == (3, timedelta(hours=-4))
    # 25 October: both still on summer time; 25 November: both back on winter time.
    assert [t.utcoffset() for t in london[8:10]] == [timedelta(hours=1), timedelta(0)]
    assert [t.utcoffset() for t in new_york[8:10]] == [timedelta(hours=-4), timedelta(hours=-5)]


@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York"])
@pytest.mark.parametrize("start", [datetime(2027, 3, 13, tzinfo=UTC), datetime(2027, 10, 30, tzinfo=UTC),
                                   datetime(2027, 11, 6, tzinfo=UTC), datetime(2027, 3, 27, tzinfo=UTC)])
def test_hourly_ingest_runs_every_hour_of_real_time_through_the_switches(zone, start):
    times = [t.astimezone(UTC) for t in fires(zone, "ingest", start, 72)]  # same-zone subtraction ignores DST
    gaps = {(b - a) for a, b in zip(times, times[1:], strict=False)}
    assert gaps == {timedelta(hours=1)}  # none skipped, none doubled, even in the repeated hour


def test_latest_fire_time_is_when_a_late_job_was_due():
    settings = Settings(timezone="Europe/London")
    trigger = trigger_for(settings, JOBS_BY_ID["send"])
    due = datetime(2027, 4, 6, 8, 0, tzinfo=UTC)  # 09:00 BST
    assert latest_fire_time(trigger, due) == due
    assert latest_fire_time(trigger, due + timedelta(hours=7)) == due
    assert latest_fire_time(trigger, due - timedelta(seconds=1)) == datetime(2027, 3, 2, 9, 0, tzinfo=UTC)


def test_values_may_contain_spaces_and_each_field_is_checked():
    assert parse_fields("day=1st tue hour=9 minute=0", "X") == {"day": "1st tue", "hour": "9", "minute": "0"}
    assert parse_fields("day_of_week=mon-fri hour=7,19", "X") == {"day_of_week": "mon-fri", "hour": "7,19"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("day_of_week=1 hour=9", "day_of_week='1' uses a number; write weekday names (mon, tue"),
        ("day_of_week=0-4", "APScheduler 3 counts Monday as 0, cron counts Sunday as 0"),
        ("weekday=tue", "unknown cron field 'weekday'"),
        ("tuesday at nine", "must be cron fields like `day=25 hour=9 minute=0`"),
        ("day=1st tue day=2", "cron field 'day' appears twice"),
        ("day=32", "the last value (32) is higher than the maximum value (31)"),
        ("", "is empty"),
    ],
)
def test_a_bad_schedule_is_refused_with_the_setting_named(value, message):
    with pytest.raises(ConfigError) as caught:
        trigger_for(Settings(schedule_send=value), JOBS_BY_ID["send"])
    assert str(caught.value).startswith("CURATOR_SCHEDULE_SEND")
    assert message in str(caught.value)


def test_print_schedule_shows_twelve_times_per_job_with_offsets_and_exits():
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURATOR_")}
    env["CURATOR_TIMEZONE"] = "America/New_York"
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "--print-schedule"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Schedule in America/New_York" in out
    for job in ("ingest:", "draft:", "send:", "retention:", "taste:"):
        assert job in out
    lines = [line for line in out.splitlines() if line.startswith("  ") and "UTC)" in line]
    assert len(lines) == 60  # five jobs, twelve runs each
    assert any(" -05:00 (14:00 UTC)" in line or " -04:00 (13:00 UTC)" in line for line in lines)
    assert "CURATOR_SCHEDULE_SEND='day=1st tue hour=9 minute=0'" in out


def test_help_explains_the_settings():
    done = subprocess.run([sys.executable, "-m", "scheduler", "--help"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0
    for text in ("--print-schedule", "standby", "CURATOR_SCHEDULE_SEND", "CURATOR_SEND_GRACE_HOURS", "SIGTERM"):
        assert text in done.stdout


def test_curator_schedule_shows_the_next_runs_and_the_leader(db_url):
    from curator import store
    from scheduler.leader import RowLock

    engine = store.make_engine(db_url)
    try:
        RowLock(engine, "sched-host:99", timeout=60).try_acquire()
    finally:
        engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURATOR_")}
    env |= {"CURATOR_DATABASE_URL": db_url, "CURATOR_TIMEZONE": "Europe/London"}
    done = subprocess.run([sys.executable, "-m", "curator", "schedule", "--json", "-n", "2"], cwd=REPO, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["timezone"] == "Europe/London" and data["leader"]["holder"] == "sched-host:99"
    assert [job["id"] for job in data["jobs"]] == ["ingest", "draft", "send", "retention", "taste"]
    send = data["jobs"][2]
    assert send["setting"] == "CURATOR_SCHEDULE_SEND" and len(send["next"]) == 2
    assert all(datetime.fromisoformat(t).strftime("%a %H:%M") == "Tue 09:00" for t in send["next"])

    table = subprocess.run([sys.executable, "-m", "curator", "schedule"], cwd=REPO, env=env | {"COLUMNS": "200"},
                           capture_output=True, text=True)
    assert table.returncode == 0 and "Leader: sched-host:99" in table.stdout and "(running)" in table.stdout

    bad = subprocess.run([sys.executable, "-m", "curator", "schedule"], cwd=REPO,
                         env=env | {"CURATOR_SCHEDULE_DRAFT": "day_of_week=4 hour=9"}, capture_output=True, text=True)
    assert bad.returncode == 2 and "CURATOR_SCHEDULE_DRAFT: day_of_week='4' uses a number" in bad.stderr
