"""`python -m scheduler`: run the monthly schedule (leader or standby), or print it and exit."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from curator.config import load_settings
from curator.errors import CuratorError
from curator.logging import setup_logging
from curator.store.schema import now
from scheduler import open_database
from scheduler.daemon import run
from scheduler.schedule import render_text, triggers

DESCRIPTION = """\
Run Curator's schedule with APScheduler: ingest the feeds (hourly), build the next issue's
draft and email the editors a link to the desk (the 25th, 09:00), and send the approved
issue (the first Tuesday, 09:00), in CURATOR_TIMEZONE. Jobs are stored in the database.

Start one on each of two machines (or twice on one): the first to take the database's lock
leads, the other waits as standby and takes over when the leader dies (PostgreSQL: at once;
SQLite: after CURATOR_SCHEDULER_LOCK_TIMEOUT seconds without a heartbeat).
"""
EPILOG = """\
settings (environment):
  CURATOR_DATABASE_URL          the database (run `curator db upgrade` first)
  CURATOR_TIMEZONE              time zone of the schedule, e.g. Europe/London
  CURATOR_SCHEDULE_INGEST       cron fields, default "minute=0"
  CURATOR_SCHEDULE_DRAFT        cron fields, default "day=25 hour=9 minute=0"
  CURATOR_SCHEDULE_SEND         cron fields, default "day=1st tue hour=9 minute=0"
                                (weekday names only: APScheduler 3 counts Monday as 0)
  CURATOR_SEND_GRACE_HOURS      a send missed by more is not made; ops get an alert (default 6)
  CURATOR_AUTO_APPROVE          approve the top picks of an unapproved issue at send time
  CURATOR_EDITOR_EMAILS, CURATOR_OPS_EMAILS   who is told of drafts and of alerts
  CURATOR_LOG_JSON              log JSON lines
`curator config` lists every setting. SIGTERM (or Ctrl-C) stops cleanly: running jobs finish,
the lock is released.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--print-schedule", action="store_true",
        help="print the next fire times of every job, with their UTC offsets, and exit",
    )
    parser.add_argument("--count", type=int, default=12, metavar="N", help="fire times per job to print (12)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        if args.print_schedule:
            print(render_text(settings, now(), args.count))
            return 0
        setup_logging(settings)
        # Each job checks the schema; alembic would say so at INFO every hour.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        triggers(settings)  # a bad schedule stops us here, before we take the lock
        engine = open_database(settings.database_url)
    except CuratorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()

    def request_stop(signum, _frame) -> None:
        logging.getLogger("scheduler").info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        run(settings, engine, stop)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
