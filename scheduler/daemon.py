"""The scheduler process: wait as standby until the lock is ours, then run APScheduler as the leader.

A leader's term ends when it is asked to stop (SIGTERM) or loses the lock; it then waits for
running jobs, releases the lock and, unless stopping, goes back to standby.
"""

from __future__ import annotations

import logging
import threading
import time

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from curator.config import Settings
from curator.store.schema import now as utcnow
from scheduler import jobs, stored
from scheduler.leader import Lock, make_lock, read_leader
from scheduler.schedule import JOBS, JOBSTORE_TABLE, triggers

log = logging.getLogger("scheduler")
DELIVER_EVERY = 60  # seconds between the leader's delivery passes (CURATOR_SCHEDULER_DELIVERS)


class _SharedEngineJobStore(SQLAlchemyJobStore):
    """APScheduler's SQLAlchemy job store on an engine it does not own.

    The stock shutdown() disposes the engine, which here is the daemon's: the heartbeat thread
    still uses it while the scheduler shuts down, and a connection it held then went back into
    the discarded pool and was left open until the garbage collector found it.
    """

    def shutdown(self) -> None:
        pass  # the engine's owner (the daemon, a test) disposes it


def build_scheduler(settings: Settings, engine: Engine, stop: threading.Event | None = None) -> BlockingScheduler:
    """A BlockingScheduler whose jobs live in the project's database, one per JobSpec.

    With CURATOR_SCHEDULER_DELIVERS, a process-local `deliver` job (memory store: it is not
    part of the calendar) works through sends under way every minute, and right after the send job.
    """
    settings = stored.effective(settings, engine)  # the schedule ops edited in the console, if any
    found = triggers(settings)
    jobstore = _SharedEngineJobStore(engine=engine, tablename=JOBSTORE_TABLE)
    scheduler = BlockingScheduler(
        jobstores={"default": jobstore, "local": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=len(JOBS) + 3)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=settings.tz,
    )
    # Read what the last leader left before replacing it: replace_existing alone would
    # recompute the next run from now, and a run it missed (the send!) would vanish unseen.
    jobstore.start(scheduler, "default")
    misfire = {"send": int(jobs.grace(settings).total_seconds())}  # later than this: an alert, not a send
    for spec in JOBS:
        options: dict = {}
        kept = _stored_job(jobstore, spec.id)
        if kept is not None and kept.next_run_time and stored.same_trigger(kept.trigger, found[spec.id]):
            options["next_run_time"] = kept.next_run_time
        scheduler.add_job(
            spec.func, found[spec.id], id=spec.id, name=spec.description, replace_existing=True,
            coalesce=True, max_instances=1, misfire_grace_time=misfire.get(spec.id), **options,
        )
    if settings.scheduler_delivers:
        scheduler.add_job(
            jobs.deliver, IntervalTrigger(seconds=DELIVER_EVERY), args=(settings, engine, stop), id="deliver",
            name="send the batches of sends under way", jobstore="local", coalesce=True, max_instances=1,
            misfire_grace_time=None, next_run_time=utcnow(),  # at once: a send the last leader left unfinished
        )
    events = EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_EXECUTED
    scheduler.add_listener(_on_event(settings, engine, scheduler), events)
    return scheduler


def _stored_job(jobstore: SQLAlchemyJobStore, job_id: str):
    try:
        return jobstore.lookup_job(job_id)
    except Exception as exc:  # written by another version, or unreadable: it is replaced
        log.warning("ignoring the stored %s job: %s", job_id, exc)
        return None


def _on_event(settings: Settings, engine: Engine, scheduler: BlockingScheduler):
    def listener(event) -> None:
        try:
            if event.code == EVENT_JOB_EXECUTED and event.job_id == "send" and settings.scheduler_delivers:
                scheduler.modify_job("deliver", "local", next_run_time=utcnow())  # deliver now, not within a minute
            elif event.code == EVENT_JOB_MISSED and event.job_id == "send":
                jobs.alert_missed(settings, engine, event.scheduled_run_time, utcnow())
            elif event.code == EVENT_JOB_ERROR:
                jobs.alert_failed(settings, engine, event.job_id, event.exception)
        except Exception:
            log.exception("could not record the alert for the %s job", event.job_id)

    return listener


def run(settings: Settings, engine: Engine, stop: threading.Event, lock: Lock | None = None) -> None:
    """Lead or stand by until `stop` is set."""
    lock = lock or make_lock(engine, settings.scheduler_lock_timeout)
    waiting = False
    try:
        while not stop.is_set():
            if _try(lock):
                waiting = False
                log.info("leading: %s holds the scheduler lock", lock.holder)
                try:
                    lead(settings, engine, lock, stop)
                finally:
                    _release(lock)
                continue
            if not waiting:
                holder = _holder(engine)
                log.info("standby: %s holds the scheduler lock; %s waits to take over", holder, lock.holder)
                waiting = True
            stop.wait(settings.scheduler_heartbeat_seconds)
    finally:
        lock.close()


def _holder(engine: Engine) -> str:
    try:
        with engine.connect() as conn:
            leader = read_leader(conn)
    except DBAPIError:
        leader = None
    return leader["holder"] if leader else "another scheduler"


def _release(lock: Lock) -> None:
    try:
        lock.release()
    except DBAPIError as exc:  # the lock row goes stale and a standby takes over anyway
        log.warning("could not release the scheduler lock cleanly: %s", str(exc.orig or exc).strip().splitlines()[0])
    else:
        log.info("released the scheduler lock")


def _try(lock: Lock) -> bool:
    try:
        return lock.try_acquire()
    except DBAPIError as exc:  # a busy or unreachable database: a standby keeps waiting, it does not crash
        log.warning("cannot try the scheduler lock: %s", str(exc.orig or exc).strip().splitlines()[0])
        return False


def lead(settings: Settings, engine: Engine, lock: Lock, stop: threading.Event) -> None:
    """One term as leader: APScheduler runs in this thread, the heartbeat in another."""
    scheduler = build_scheduler(settings, engine, stop)
    term = _Term(settings, lock, scheduler, stop, engine)
    scheduler.add_listener(lambda _: term.begin(), EVENT_SCHEDULER_STARTED)
    try:
        scheduler.start()  # returns once the heartbeat thread shut it down
    finally:
        term.end()


class _Term:
    """The heartbeat of a leader's term, and the shutdown it asks for when the term is over."""

    def __init__(
        self, settings: Settings, lock: Lock, scheduler: BlockingScheduler, stop: threading.Event, engine: Engine
    ):
        self.settings, self.lock, self.scheduler, self.stop, self.engine = settings, lock, scheduler, stop, engine
        self.done = threading.Event()
        self.threads: list[threading.Thread] = []
        self.stopping = False

    def begin(self) -> None:
        self._spawn(self._beat, "scheduler-heartbeat")

    def end(self) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join()

    def _spawn(self, target, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _shutdown(self, why: str) -> None:
        if not self.stopping:
            self.stopping = True
            log.info("stopping the scheduler: %s (running jobs finish first)", why)
            self._spawn(self.scheduler.shutdown, "scheduler-shutdown")

    def _beat(self) -> None:
        """Beat until the term is done; keep beating while running jobs finish, so nobody takes over."""
        interval, timeout = self.settings.scheduler_heartbeat_seconds, self.settings.scheduler_lock_timeout
        last_ok = time.monotonic()
        while not self.done.is_set():
            if self.stop.is_set():
                self._shutdown("asked to stop")
            try:
                held = self.lock.beat()
            except Exception as exc:  # a busy or unreachable database: keep trying a while
                log.warning("could not write the scheduler heartbeat: %s", exc)
                held = time.monotonic() - last_ok < timeout / 2
            else:
                last_ok = time.monotonic() if held else last_ok
            if not held:
                log.error("lost the scheduler lock: stepping down to standby")
                self._shutdown("lost the lock")
                return
            if not self.stopping:
                self._refresh_schedule()
            (self.done if self.stopping else self.stop).wait(interval)

    def _refresh_schedule(self) -> None:
        """Apply the schedule ops edited in the console: within a heartbeat, no restart.

        Here, not as a scheduler job: shutdown() holds the job stores' lock while it waits for
        running jobs, so a job that asks the scheduler for its jobs then deadlocks the shutdown.
        """
        try:
            stored.refresh(self.scheduler, self.settings, self.engine)
        except Exception as exc:  # a busy database: the next beat tries again
            log.warning("could not apply the schedule stored in the console: %s", exc)
