"""Delivery: freeze the audience into the ledger, then send it in batches, each subscriber once.

    start(engine, period, actor)       freeze the audience; approved -> sending
    Worker(settings, engine).run()     claim -> render -> post -> record, until no work is left
    pause / resume / cancel / retry    steer a send between batches
    status(engine, period)             counts by state, rate, time left, deliverability
    dry_run(settings, engine, period)  render every variant, check everything, send nothing
    send_transactional(...)            one email now (confirmations); send_test: a [TEST] copy

The guarantee, and where it stops, is in the README, under "The delivery guarantee".
"""

from curator.deliver.backends import Backend, BatchMessage, BatchResult, Outcome, Recipient, SingleMessage
from curator.deliver.choice import make_backend
from curator.deliver.control import (
    DryRun,
    SendStatus,
    Started,
    audience_size,
    cancel,
    dry_run,
    outcome_summary,
    pause,
    refuse_unapproved,
    resume,
    retry,
    start,
    status,
)
from curator.deliver.transactional import TEST_PREFIX, send_test, send_transactional
from curator.deliver.worker import Report, Worker

__all__ = [
    "TEST_PREFIX", "Backend", "BatchMessage", "BatchResult", "DryRun", "Outcome", "Recipient", "Report",
    "SendStatus", "SingleMessage", "Started", "Worker", "audience_size", "cancel", "dry_run", "make_backend",
    "outcome_summary", "pause", "refuse_unapproved", "resume", "retry", "send_test", "send_transactional", "start",
    "status",
]
