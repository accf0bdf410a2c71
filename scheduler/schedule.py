"""The schedule: cron fields from settings, validated, as APScheduler triggers with their next fire times."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from curator.config import Settings
from curator.errors import ConfigError

JOBSTORE_TABLE = "apscheduler_jobs"  # APScheduler's SQLAlchemyJobStore table, in the project's database
FIELDS = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
WEEKDAYS = "mon, tue, wed, thu, fri, sat, sun"


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: its id, the setting holding its cron fields, and what it does."""

    id: str
    setting: str
    func: str  # textual reference: the job store keeps this, never a pickled function
    description: str

    @property
    def env(self) -> str:
        return f"CURATOR_{self.setting.upper()}"


JOBS = (
    JobSpec("ingest", "schedule_ingest", "scheduler.jobs:ingest_job", "fetch every feed"),
    JobSpec("draft", "schedule_draft", "scheduler.jobs:draft_job",
            "build the next issue's draft and email the editors a link to the desk"),
    JobSpec("send", "schedule_send", "scheduler.jobs:send_job", "send the approved issue"),
    JobSpec("retention", "schedule_retention", "scheduler.jobs:retention_job",
            "fold raw click rows past CURATOR_CLICK_RETENTION_DAYS into totals and delete them"),
    JobSpec("taste", "schedule_taste", "scheduler.jobs:taste_job",
            "retrain the editors' taste model when their decisions changed"),
)
JOBS_BY_ID = {job.id: job for job in JOBS}


def parse_fields(text: str, env: str) -> dict[str, str]:
    """`day=1st tue hour=9 minute=0` as {field: expression}; a value runs until the next `name=`."""
    fields: dict[str, str] = {}
    current = None
    for token in text.split():
        name, eq, value = token.partition("=")
        if eq:
            if name not in FIELDS:
                raise ConfigError(f"{env}: unknown cron field {name!r} in {text!r}; fields are {', '.join(FIELDS)}")
            if name in fields:
                raise ConfigError(f"{env}: cron field {name!r} appears twice in {text!r}")
            current, fields[name] = name, value
        elif current is None:
            raise ConfigError(f"{env}: {text!r} must be cron fields like `day=25 hour=9 minute=0`")
        else:
            fields[current] = f"{fields[current]} {token}".strip()
    if not fields:
        raise ConfigError(f"{env} is empty; write cron fields like `day=25 hour=9 minute=0`")
    for name, value in fields.items():
        if not value:
            raise ConfigError(f"{env}: cron field {name!r} has no value in {text!r}")
    # APScheduler 3 counts Monday as 0 and crontab counts Sunday as 0: a number here is a trap.
    if re.search(r"\d", fields.get("day_of_week", "")):
        raise ConfigError(
            f"{env}: day_of_week={fields['day_of_week']!r} uses a number; write weekday names "
            f"({WEEKDAYS}), for example day_of_week=mon-fri: APScheduler 3 counts Monday as 0, cron counts Sunday as 0"
        )
    return fields


def trigger_for(settings: Settings, job: JobSpec) -> CronTrigger:
    """The job's trigger in the configured time zone, or a ConfigError naming the setting."""
    text = getattr(settings, job.setting)
    fields = parse_fields(text, job.env)
    try:
        return CronTrigger(**fields, timezone=settings.tz)
    except ValueError as exc:
        raise ConfigError(f"{job.env}={text!r}: {exc}") from None


def triggers(settings: Settings) -> dict[str, CronTrigger]:
    """Every job's trigger; checks all the schedule settings at once."""
    problems, out = [], {}
    for job in JOBS:
        try:
            out[job.id] = trigger_for(settings, job)
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("\n".join(problems))
    return out


def next_fire_times(trigger: CronTrigger, after: datetime, count: int) -> list[datetime]:
    """The next `count` fire times strictly after `after`, in the trigger's time zone."""
    times: list[datetime] = []
    fire = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    while fire is not None and len(times) < count:
        times.append(fire)
        fire = trigger.get_next_fire_time(fire, fire)
    return times


def latest_fire_time(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The last fire time at or before `now` (within a year): when a late-running job was due."""
    for days in (1, 8, 40, 370):
        fire = trigger.get_next_fire_time(None, now - timedelta(days=days))
        latest = None
        while fire is not None and fire <= now:
            latest = fire
            fire = trigger.get_next_fire_time(fire, fire)
        if latest is not None:
            return latest
    return None


def format_time(moment: datetime) -> str:
    """`Tue 2027-04-06 09:00 +01:00 (08:00 UTC)`: local time, its offset, and UTC."""
    offset = moment.strftime("%z")
    utc = moment.astimezone(UTC)
    return f"{moment:%a %Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]} ({utc:%H:%M} UTC)"


def describe(settings: Settings, now: datetime, count: int) -> list[dict]:
    """Each job with its cron fields and next `count` fire times (for the CLI, the console, --print-schedule)."""
    found = triggers(settings)
    return [
        {
            "id": job.id,
            "setting": job.env,
            "fields": getattr(settings, job.setting),
            "description": job.description,
            "next": next_fire_times(found[job.id], now, count),
        }
        for job in JOBS
    ]


def render_text(settings: Settings, now: datetime, count: int = 12) -> str:
    """The schedule as plain text: every job and its next fire times with UTC offsets."""
    lines = [f"Schedule in {settings.timezone} (now {format_time(now.astimezone(settings.tz))})"]
    for job in describe(settings, now, count):
        lines.append("")
        lines.append(f"{job['id']}: {job['description']}")
        lines.append(f"  {job['setting']}={job['fields']!r}")
        lines.extend(f"  {format_time(moment)}" for moment in job["next"])
    return "\n".join(lines)


def stored_next_runs(engine: Engine) -> dict[str, datetime | None]:
    """When the running scheduler will next run each job, from its job store; empty before one ever ran."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT id, next_run_time FROM {JOBSTORE_TABLE}")).all()
    except DBAPIError:  # no scheduler has created its table yet
        return {}
    return {job_id: datetime.fromtimestamp(ts, UTC) if ts else None for job_id, ts in rows}
