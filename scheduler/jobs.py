"""The scheduled jobs: ingest, draft (and tell the editors), send, retention. Each calls the stages in flow order.

APScheduler keeps only a textual reference to the `*_job` entry points, never settings:
each run reads the settings (CURATOR_*) and opens the database itself. The work is in
`ingest`, `draft` and `send`, which take settings and an engine, and which the tests call.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Engine, exists, select

from curator import alerts, editorial
from curator.config import Settings, load_settings
from curator.errors import CuratorError, IllegalTransition, SendRefused
from curator.store.schema import deliveries, issues
from curator.store.schema import now as utcnow
from scheduler import open_database
from scheduler.schedule import JOBS_BY_ID, format_time, latest_fire_time, next_fire_times, trigger_for

log = logging.getLogger("scheduler.jobs")
ACTOR = "scheduler"
MIN_GRACE = timedelta(minutes=1)  # a job always starts a little late; a grace of 0 must not block every send


# -- entry points (what the job store names)


@contextmanager
def _context() -> Iterator[tuple[Settings, Engine]]:
    from scheduler.stored import effective

    settings = load_settings()
    engine = open_database(settings.database_url)
    try:
        yield effective(settings, engine), engine
    finally:
        engine.dispose()


def ingest_job() -> None:
    with _context() as (settings, engine):
        ingest(settings, engine)


def draft_job() -> None:
    with _context() as (settings, engine):
        draft(settings, engine)


def taste_job() -> None:
    with _context() as (settings, engine):
        taste(engine)


def taste(engine: Engine) -> int | None:
    """Retrain the editors' taste model if their decisions changed since the stored version."""
    from curator.curate import taste as editors_taste

    with engine.begin() as conn:
        version = editors_taste.retrain(conn)
    log.info("taste model: version %s in use", version)
    return version


def send_job() -> None:
    with _context() as (settings, engine):
        send(settings, engine)


def retention_job() -> None:
    with _context() as (settings, engine):
        retention(settings, engine)


# -- retention


def retention(settings: Settings, engine: Engine, *, now: datetime | None = None) -> int:
    """Fold raw click rows older than CURATOR_CLICK_RETENTION_DAYS into totals and delete them."""
    from curator.engagement.retention import fold_old_clicks

    with engine.begin() as conn:
        deleted = fold_old_clicks(conn, settings.click_retention_days, now=now)
    log.info("retention: %d raw click rows older than %d days folded into totals and deleted",
             deleted, settings.click_retention_days)
    return deleted


# -- ingest


def ingest(settings: Settings, engine: Engine):
    """Fetch every feed of feeds.yaml; a failing feed is recorded on the feed and never stops the run."""
    from curator.ingest import run_ingest
    from curator.sources import load_sources

    report = run_ingest(settings, engine, load_sources(settings.feeds))
    log.info("ingest: %d feeds fetched, %d new items, %d failing, %d not due",
             len(report.feeds), report.new_items, len(report.errors), report.not_due)
    return report


# -- draft


def draft_period(settings: Settings, now: datetime) -> str:
    """The issue a draft made now is for: the month of the next scheduled send."""
    upcoming = next_fire_times(trigger_for(settings, JOBS_BY_ID["send"]), now, 1)
    moment = upcoming[0] if upcoming else now.astimezone(settings.tz)
    return f"{moment:%Y-%m}"


def draft(settings: Settings, engine: Engine, *, now: datetime | None = None) -> str:
    """Build (or top up) the next issue's draft and email the editors a link to it in the desk."""
    from curator.curate import build_draft
    from curator.sources import load_sources

    now = now or utcnow()
    period = draft_period(settings, now)
    try:
        result = build_draft(engine, settings, load_sources(settings.feeds), period, actor=ACTOR, now=now)
    except IllegalTransition as exc:  # approved already, or further along: nothing to draft
        log.info("no draft for %s: %s", period, exc)
        return period
    log.info("draft %s: %d candidates added", period, result.added)
    if settings.fetch_articles:
        from curator.ingest.article import fetch_for_issue

        read = fetch_for_issue(settings, engine, period)
        log.info("draft %s: read %d articles, %d unreadable", period, read.read, len(read.failed))
    _tell_editors(settings, period, result, now)
    return period


def _tell_editors(settings: Settings, period: str, result, now: datetime) -> None:
    from curator.deliver import send_transactional

    if not settings.editor_emails:
        log.warning("the draft of %s is ready but CURATOR_EDITOR_EMAILS is empty: nobody was told", period)
        return
    link = f"{settings.base_url.rstrip('/')}/desk/{period}"
    upcoming = next_fire_times(trigger_for(settings, JOBS_BY_ID["send"]), now, 1)
    when = format_time(upcoming[0]) if upcoming else "not scheduled"
    lines = [f"{t.name}: {t.candidates} candidates ({t.added} new), {t.quota} to pick" for t in result.topics]
    subject = f"The {_month(period)} issue is ready for review"
    text = (
        f"The draft of the {_month(period)} issue is ready: review and approve its picks in the desk.\n\n"
        f"{link}\n\n" + "\n".join(lines) + f"\n\nThe send is scheduled for {when}; "
        "only an approved issue is sent.\n"
    )
    body = (
        f"<p>The draft of the {_month(period)} issue is ready: review and approve its picks in the desk.</p>"
        f'<p><a href="{html.escape(link)}">Open the {_month(period)} issue in the desk</a></p>'
        "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"
        f"<p>The send is scheduled for {html.escape(when)}; only an approved issue is sent.</p>"
    )
    for address in settings.editor_emails:
        try:
            send_transactional(settings, to=address, subject=subject, html=body, text=text)
        except CuratorError as exc:
            log.error("could not email %s about the draft of %s: %s", address, period, exc)


def _month(period: str) -> str:
    return datetime.strptime(period, "%Y-%m").strftime("%B %Y")


# -- send


def grace(settings: Settings) -> timedelta:
    return max(timedelta(hours=settings.send_grace_hours), MIN_GRACE)


def send(settings: Settings, engine: Engine, *, now: datetime | None = None) -> str:
    """Start the send of the issue due now, at most once and only when approved; returns what happened.

    Outcomes: missed, unscheduled, no_issue, cancelled, already_started, unapproved, refused, started.
    The batches go out through workers: `curator worker`, or the scheduler's own deliver job.
    """
    now = now or utcnow()
    due = latest_fire_time(trigger_for(settings, JOBS_BY_ID["send"]), now)
    if due is None:
        log.warning("the send job ran but no send was scheduled in the past year: nothing to do")
        return "unscheduled"
    if now - due > grace(settings):
        alert_missed(settings, engine, due, now)
        return "missed"
    return start(settings, engine, f"{due.astimezone(settings.tz):%Y-%m}")


def start(settings: Settings, engine: Engine, period: str) -> str:
    """Approve (when allowed) and start the send of `period`; only one caller ever starts it."""
    from curator import deliver

    outcome, problem = _check(settings, engine, period)
    if outcome is None:
        try:
            started = deliver.start(engine, period, ACTOR, settings)
        except IllegalTransition:  # a racing caller moved it first: its send is the one
            outcome = "already_started"
        except SendRefused:  # http links for a real send: deliver recorded the alert
            outcome = "refused"
        except CuratorError as exc:  # reopened by an editor since the check, say
            outcome, problem = "unapproved", ("send_unapproved", f"Issue {period} was not sent: {exc}.")
        else:
            outcome = "already_started" if started.resumed else "started"
            if not started.resumed:
                log.info("started the send of %s to %d recipients", period, started.frozen)
    if problem is not None:
        kind, message = problem
        alerts.raise_alert(settings, engine, kind, message, period=period, notify=(alerts.OPS, alerts.EDITORS))
    return outcome


def _check(settings: Settings, engine: Engine, period: str) -> tuple[str | None, tuple[str, str] | None]:
    """Whether `period` may start now: (None, None) when it may, else (outcome, alert or None)."""
    with engine.begin() as conn:
        # The row lock (PostgreSQL; SQLite's BEGIN IMMEDIATE serializes anyway) makes a second
        # caller wait here, then read the status the first one left.
        row = conn.execute(select(issues).where(issues.c.period == period).with_for_update()).mappings().first()
        if row is None:
            message = (f"No issue exists for {period}, so nothing was sent. Draft and approve it in the desk, "
                       f"then send it from the ops console (or `curator send {period}`).")
            return "no_issue", ("send_no_issue", message)
        if row["status"] in ("sending", "paused", "sent"):
            log.info("issue %s is %s already: not sending it again", period, row["status"])
            return "already_started", None
        if row["status"] == "cancelled":
            log.warning("issue %s is cancelled: not sending it", period)
            return "cancelled", None
        if row["status"] != "approved":
            problem = _approve_or_explain(settings, conn, period, row["status"])
            if problem is not None:
                return "unapproved", problem
    return None, None


def _approve_or_explain(settings: Settings, conn, period: str, status: str) -> tuple[str, str] | None:
    """CURATOR_AUTO_APPROVE approves the top picks; otherwise (or when that fails) say why nothing went out."""
    if settings.auto_approve:
        from curator.sources import load_sources

        topics = load_sources(settings.feeds).topics
        try:
            with conn.begin_nested():  # a failed approval leaves the issue as it was
                editorial.approve_all(conn, period, {t.name: t.quota for t in topics}, ACTOR)
                warnings = editorial.approve_issue(conn, period, ACTOR, [(t.name, t.title or t.name) for t in topics])
        except CuratorError as exc:
            return ("send_unapproved", f"Issue {period} is {status} and could not be approved automatically "
                    f"({exc}); nothing was sent.")
        log.warning("auto-approved issue %s at send time%s", period, f": {'; '.join(warnings)}" if warnings else "")
        return None
    return ("send_unapproved", f"Issue {period} is {status}, not approved, so it was not sent at its scheduled "
            f"time. Approve it in the desk, then send it from the ops console (or `curator send {period}`).")


def deliver(settings: Settings, engine: Engine, stop: threading.Event | None = None) -> object | None:
    """Work through every send under way as one worker until nothing can be claimed; None when idle."""
    from curator.deliver import Worker
    from curator.deliver.ledger import UNFINISHED

    with engine.connect() as conn:
        busy = conn.execute(select(
            exists().where(issues.c.status == "sending") | exists().where(deliveries.c.state.in_(UNFINISHED))
        )).scalar()
    if not busy:
        return None
    report = Worker(settings, engine, stop=stop).run(once=True)
    log.info("delivery pass: %s", report)
    return report


def alert_missed(settings: Settings, engine: Engine, due: datetime, now: datetime) -> None:
    """A send more than the grace late is not made automatically: ops decide."""
    period = f"{due.astimezone(settings.tz):%Y-%m}"
    with engine.connect() as conn:
        status = conn.execute(select(issues.c.status).where(issues.c.period == period)).scalar()
    if status in ("sending", "paused", "sent", "cancelled"):  # ops acted already: nothing was missed
        log.info("the send of %s was due at %s; the issue is %s already", period, due, status)
        return
    late = now - due
    hours = late.total_seconds() / 3600
    message = (
        f"The send of issue {period} was due at {format_time(due.astimezone(settings.tz))} and could only run "
        f"{hours:.1f} hours later, more than CURATOR_SEND_GRACE_HOURS={settings.send_grace_hours:g}; it was not "
        f"sent automatically. If it should still go out, send it from the ops console (or `curator send {period}`)."
    )
    alerts.raise_alert(settings, engine, "send_missed", message, period=period)


def alert_failed(settings: Settings, engine: Engine, job_id: str, exc: BaseException) -> None:
    """A job raised: tell ops once (until they acknowledge it), not every hour."""
    if isinstance(exc, SendRefused):  # delivery recorded its own alert, which says what to fix
        return
    kind = f"{job_id}_failed"
    with engine.connect() as conn:
        if any(a["kind"] == kind for a in alerts.list_alerts(conn, open_only=True, limit=200)):
            return
    alerts.raise_alert(settings, engine, kind, f"The {job_id} job failed: {exc}. The scheduler keeps running; "
                       "its log has the details.")
