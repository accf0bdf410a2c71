"""The schedule ops edit in the console: stored per job in the database, over the CURATOR_SCHEDULE_* default.

`effective(settings, engine)` is the settings with the stored cron fields in place; the
scheduler, its jobs, the console and `curator schedule` all read the schedule through it,
and the running leader re-reads it every heartbeat (`refresh`), so a change needs no restart.
"""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from curator.config import Settings
from curator.errors import ConfigError, NotFound
from curator.store.schema import now, schedule_overrides
from scheduler.schedule import JOBS, JOBS_BY_ID, trigger_for, triggers

log = logging.getLogger("scheduler.stored")


def stored(conn: Connection) -> dict[str, dict]:
    """Job id -> {fields, updated_by, updated_at} for the jobs ops changed."""
    rows = conn.execute(select(schedule_overrides)).mappings()
    return {row["job"]: dict(row) for row in rows if row["job"] in JOBS_BY_ID}


def effective(settings: Settings, engine: Engine) -> Settings:
    """`settings` with the schedule ops stored; the environment's where none is stored (or it is unreadable)."""
    try:
        with engine.connect() as conn:
            found = stored(conn)
    except DBAPIError as exc:  # an older database, or a busy one: the environment's schedule still works
        log.warning("using the environment's schedule: the stored one is unreadable (%s)", str(exc).splitlines()[0])
        return settings
    return apply(settings, {job: row["fields"] for job, row in found.items()})


def apply(settings: Settings, fields: dict[str, str]) -> Settings:
    return settings.model_copy(update={JOBS_BY_ID[job].setting: text for job, text in fields.items()})


def save(conn: Connection, settings: Settings, job: str, fields: str, actor: str) -> str | None:
    """Store a job's cron fields (checked first; ConfigError names the mistake); "" goes back to the default.

    Returns the fields now in force for the job, or None when it is the environment's again.
    """
    from curator.editorial import audit

    spec = JOBS_BY_ID.get(job)
    if spec is None:
        raise NotFound(f"there is no scheduled job {job!r}; jobs are {', '.join(j.id for j in JOBS)}")
    text = " ".join(fields.split())
    exists_ = conn.execute(select(schedule_overrides.c.job).where(schedule_overrides.c.job == job)).first()
    if not text or text == getattr(settings, spec.setting):
        conn.execute(delete(schedule_overrides).where(schedule_overrides.c.job == job))
        if exists_:
            audit(conn, actor, "schedule.reset", job, f"back to {spec.env}={getattr(settings, spec.setting)!r}")
        return None
    trigger_for(apply(settings, {job: text}), spec)  # raises ConfigError naming the problem
    values = {"fields": text, "updated_by": actor, "updated_at": now()}
    if exists_:
        conn.execute(update(schedule_overrides).where(schedule_overrides.c.job == job).values(**values))
    else:
        conn.execute(insert(schedule_overrides).values(job=job, **values))
    audit(conn, actor, "schedule.edit", job, text)
    return text


def refresh(scheduler, settings: Settings, engine: Engine) -> list[str]:
    """Give the running scheduler's jobs the schedule now stored; returns the ids whose trigger changed."""
    try:
        wanted = triggers(effective(settings, engine))
    except ConfigError as exc:  # stored by an older version, say: keep what runs, and say so
        log.error("the stored schedule is not valid, the running one is kept: %s", exc)
        return []
    changed = []
    for job_id, trigger in wanted.items():
        job = scheduler.get_job(job_id, "default")
        if job is None or same_trigger(job.trigger, trigger):
            continue
        scheduler.reschedule_job(job_id, "default", trigger=trigger)
        changed.append(job_id)
        log.info("the %s job now runs at %s (changed in the console)", job_id, trigger)
    return changed


def same_trigger(a, b: CronTrigger) -> bool:
    return isinstance(a, CronTrigger) and (str(a), str(a.timezone)) == (str(b), str(b.timezone))


def describe_change(row: dict) -> str:
    at: datetime = row["updated_at"]
    return f"set by {row['updated_by']} on {at:%Y-%m-%d %H:%M} UTC"
