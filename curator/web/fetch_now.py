""""Fetch feeds now" from the desk: ingest, then add the new candidates to the issue, with progress.

The run happens in a thread of the web process that started it; its progress is a row of
`fetch_runs`, so whichever web process the editor's browser polls can answer. One run at a
time: a second press while one is running shows the running one. A run that has said nothing
for STALE (its process died) no longer blocks a new one.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import Engine, insert, select, update

from curator.config import Settings
from curator.curate import build_draft
from curator.errors import CuratorError
from curator.ingest import FeedReport, run_ingest
from curator.sources import load_sources
from curator.store.schema import fetch_runs, now

log = logging.getLogger("curator.web.fetch")
STALE = timedelta(minutes=15)


def latest(engine: Engine, period: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(fetch_runs).where(fetch_runs.c.period == period).order_by(fetch_runs.c.id.desc()).limit(1)
        ).mappings().first()
    return dict(row) if row else None


def running(run: dict | None) -> bool:
    return bool(run) and run["state"] == "running" and now() - run["started_at"] < STALE


def start(settings: Settings, engine: Engine, period: str, actor: str) -> tuple[dict, bool]:
    """Start a run (or find the one running); returns (run, started)."""
    current = latest(engine, period)
    if running(current):
        return current, False
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(fetch_runs).values(period=period, started_by=actor, started_at=now(), state="running",
                                      message="Starting…")
        ).inserted_primary_key[0]
    thread = threading.Thread(target=_run, args=(settings, engine, period, run_id, actor), daemon=True,
                              name=f"fetch-{period}-{run_id}")
    thread.start()
    return latest(engine, period) or {}, True


def _set(engine: Engine, run_id: int, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(update(fetch_runs).where(fetch_runs.c.id == run_id).values(**values))


def _run(settings: Settings, engine: Engine, period: str, run_id: int, actor: str) -> None:
    errors = 0

    def progress(done: int, total: int, report: FeedReport | None) -> None:
        nonlocal errors
        errors += bool(report and report.status == "error")
        _set(engine, run_id, feeds_done=done, feeds_total=total, errors=errors,
             message=f"Fetched {done} of {total} feeds" if total else "No feed is due: all were fetched recently")

    try:
        sources = load_sources(settings.feeds)
        report = run_ingest(settings, engine, sources, progress=progress)
        _set(engine, run_id, new_items=report.new_items, message="Adding new candidates to the issue…")
        result = build_draft(engine, settings, sources, period, actor=actor)
    except CuratorError as exc:
        _set(engine, run_id, state="failed", finished_at=now(), message=str(exc))
        return
    except Exception as exc:  # a thread has nobody to raise to: say it on the desk, and in the log
        log.exception("fetch run %s for %s failed", run_id, period)
        _set(engine, run_id, state="failed", finished_at=now(), message=f"an unexpected error: {exc}")
        return
    skipped = f"; {report.not_due} not due yet (fetched recently)" if report.not_due else ""
    failed = f"; {len(report.errors)} failed (see the ops console's feed health)" if report.errors else ""
    _set(engine, run_id, state="done", finished_at=now(), new_picks=result.added,
         message=f"Done: {len(report.feeds)} feeds fetched{skipped}{failed}. "
                 f"{report.new_items} new items, {result.added} new candidates.")
