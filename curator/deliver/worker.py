"""The delivery worker: claim a batch, render its variant, post it, record the outcome; repeat.

Any number of workers may run, on any number of machines sharing one PostgreSQL: the
ledger's claim keeps them apart, the rate limits are shared through the database, and
each checks the issue's status before each claim (pause, resume and cancel act between
batches). A live worker that gets no answer marks its batch uncertain and moves on;
whoever runs next after the batch's wait decides it (see ledger.reconcile).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import random
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, and_, exists, or_, select

from curator import editorial, render
from curator.config import Settings
from curator.deliver import ledger, throttle
from curator.deliver.backends import Backend, BatchMessage, BatchResult, Outcome, Recipient
from curator.deliver.choice import make_backend
from curator.deliver.links import require_secure_links
from curator.errors import ConfigError, DeliveryError, IllegalTransition, SendRefused
from curator.store.schema import deliveries, issues

log = logging.getLogger(__name__)
MAX_RATE_LIMITED = 100  # 429s in a row for one batch before it counts as a failed attempt
PREFETCH = 1  # rendered batches waiting for the sender thread
# How long a thread that wants the GIL waits for the one holding it (Python's default: 5 ms). The
# claim thread gives the GIL up for each SQLite call and, by default, waited up to 5 ms for it back
# while the sender signed and encoded: the two threads overlapped less than they could (the SQLite
# send benchmark, one run each: 19,183 recipients/s at 0.5 ms, 17,527 at 5 ms). Restored after run().
SWITCH_INTERVAL_S = 0.0005
LEASE_MARGIN_S = 30.0  # lease left beyond the request's timeout for a batch to go out without ledger.hold


@dataclass
class Report:
    """What one worker did."""

    batches: int = 0
    requests: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    uncertain: int = 0
    finished: list[str] = field(default_factory=list)  # periods this worker moved to sent


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


class Worker:
    """Sends the batches of every issue being sent (or of one period) until there is no work."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        period: str | None = None,
        backend: Backend | None = None,
        stop: threading.Event | None = None,
        on_progress: Callable[[Report], None] | None = None,
        name: str | None = None,
    ) -> None:
        if settings.send_lease_seconds <= settings.sendgrid_timeout:
            raise ConfigError(
                f"CURATOR_SEND_LEASE_SECONDS ({settings.send_lease_seconds}) must be longer than "
                f"CURATOR_SENDGRID_TIMEOUT ({settings.sendgrid_timeout}): a batch still waiting for its answer "
                "would otherwise look abandoned"
            )
        self.settings = settings
        self.engine = engine
        self.period = period
        self.backend = backend or make_backend(settings)
        try:
            require_secure_links(settings, engine, self.backend.name, actor=f"worker {name or worker_name()}")
        except SendRefused:
            self.backend.close()
            raise
        self.throttled = self.backend.name != "outbox"  # the rate limits are SendGrid's
        self.stop = stop or threading.Event()
        self.on_progress = on_progress
        self.name = name or worker_name()
        self.report = Report()
        self._bodies: dict[tuple[int, str], render.Rendered] = {}
        self._contents: dict[int, object] = {}
        self._maintained: dict[int, float] = {}
        self._cursor: dict[int, tuple[str, int]] = {}  # where this worker's last claim ended, per issue
        self._queue: queue.Queue = queue.Queue(maxsize=PREFETCH)
        # Accepted batches the sender thread has not written down yet: while run() works, the claim
        # thread records them in its next transaction (see _settle), so the sender never waits for
        # the database's one writer. None outside run(): each outcome is recorded as it comes.
        self._accepted: list[tuple[str, BatchResult, int]] | None = None
        self._accepted_lock = threading.Lock()
        self._failure: BaseException | None = None
        # SQLite takes its write lock at BEGIN, and a connection that finds it taken polls for it
        # (store._sqlite_begin): this worker's two threads wait on a lock of their own instead.
        self._db_lock = threading.RLock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()

    @contextlib.contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self._db_lock, self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Connection]:
        with self._db_lock, self.engine.connect() as conn:
            yield conn

    # -- the loop

    def run(self, *, once: bool = False) -> Report:
        """Work until nothing is left (or, with once, until nothing can be claimed right now).

        Two threads: this one writes the ledger (claims the next batch, and records the batches
        SendGrid accepted) while the sender thread renders and posts the previous one (SQLite
        and the network wait without the GIL, so the two overlap). The sender touches the
        database only to read the issue's status, and for the rare outcomes other than
        accepted. At most PREFETCH claimed batches wait for the sender.
        """
        sender = threading.Thread(target=self._send_loop, name=f"sender-{self.name}", daemon=True)
        self._accepted = []
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, SWITCH_INTERVAL_S))
        sender.start()
        try:
            self._loop(once)
        finally:
            self._queue.put(None)
            sender.join()
            sys.setswitchinterval(switch)
            self.backend.close()
            if self._accepted:  # what the sender posted last
                with self._begin() as conn:
                    self._settle(conn)
            self._accepted = None
        if self._failure is not None:
            raise self._failure
        return self.report

    def _loop(self, once: bool) -> None:
        while not self.stop.is_set() and self._failure is None:
            active = self._active_issues()
            if not active:
                if once or not self._waiting_issue_exists():
                    return
                self.stop.wait(self.settings.send_poll_seconds)
                continue
            worked, waiting, wake = False, False, time.time() + self.settings.send_poll_seconds
            for issue_id, period, status in active:
                # Stay on an issue while it has batches; its status is read again in each claim.
                while (outcome := self._serve(issue_id, period, status)) is True:
                    worked = True
                    if self.stop.is_set() or self._failure is not None:
                        return
                if outcome is not None:  # rows wait for another worker, or for reconciliation
                    waiting = True
                    wake = min(wake, outcome)
            if not worked and waiting:
                if once:
                    return
                self.stop.wait(max(0.05, wake - time.time()))

    def _send_loop(self) -> None:
        """The sender thread: post each queued batch; after a failure or a stop, give the rest back."""
        while (item := self._queue.get()) is not None:
            period, batch = item
            try:
                status = self._status(batch.issue_id)  # a pause or cancel since the claim holds back what is not posted
                if self._failure is not None or self.stop.is_set() or status not in ("sending", "sent"):
                    with self._begin() as conn:  # claimed but never posted: safe to give back
                        ledger.release(conn, batch.key, status=None, error="not posted: stopped, paused or cancelled")
                        if status == "cancelled":
                            ledger.cancel_pending(conn, batch.issue_id)
                else:
                    self.deliver(period, batch, self._rendered(period, batch))
                    self._progress()
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
                self._failure = exc
                self.stop.set()
            finally:
                self._queue.task_done()

    def _status(self, issue_id: int) -> str | None:
        # A read, outside the lock between this worker's threads: SQLite (in WAL mode) reads beside
        # its one writer, so the sender does not wait for the next claim's transaction to post.
        with self.engine.connect() as conn:
            conn.execution_options(read_only=True)
            return conn.execute(select(issues.c.status).where(issues.c.id == issue_id)).scalar()

    def _active_issues(self) -> list[tuple[int, str, str]]:
        """Issues being sent, and finished or stopped ones with rows still waiting for an outcome."""
        unfinished = exists().where(
            deliveries.c.issue_id == issues.c.id, deliveries.c.state.in_(ledger.UNFINISHED)
        )
        query = select(issues.c.id, issues.c.period, issues.c.status).where(
            or_(issues.c.status == "sending", and_(issues.c.status.in_(("sent", "cancelled", "paused")), unfinished))
        )
        if self.period:
            query = query.where(issues.c.period == self.period)
        with self._connect() as conn:
            return [tuple(row) for row in conn.execute(query.order_by(issues.c.id))]

    def _waiting_issue_exists(self) -> bool:
        """A paused issue will be resumed: an idle worker waits for it rather than exit."""
        query = select(exists().where(issues.c.status == "paused"))
        if self.period:
            query = select(exists().where(issues.c.status == "paused", issues.c.period == self.period))
        with self._connect() as conn:
            return bool(conn.execute(query).scalar())

    def _serve(self, issue_id: int, period: str, status: str) -> bool | float | None:
        """One step on one issue: True when a batch went out, else when to look again."""
        self._maintain(issue_id, status)
        if status in ("sending", "sent") and self._failure is None:
            with self._begin() as conn:
                self._settle(conn)
                current = conn.execute(select(issues.c.status).where(issues.c.id == issue_id)).scalar()
                batch = None
                if current in ("sending", "sent"):  # checked inside the claim: pause acts between batches
                    batch = ledger.claim(
                        conn, issue_id, size=self.settings.send_batch_size, worker=self.name,
                        lease_seconds=self.settings.send_lease_seconds, after=self._cursor.get(issue_id),
                    )  # fmt: skip
                    if batch is not None and batch.rows and self.throttled:
                        batch.not_before = throttle.reserve(conn, self.settings, len(batch.rows))
            if batch is not None:
                self._cursor[issue_id] = batch.end
                self.report.skipped += batch.skipped
                if batch.rows:
                    self._queue.put((period, batch))  # the sender thread renders and posts it
                else:
                    self._progress()
                return True
        self._queue.join()  # the sender's batches may be this issue's last rows
        with self._begin() as conn:
            self._settle(conn)
            if not ledger.unfinished(conn, issue_id):
                if status == "sending":
                    self._finish(conn, period)
                return None
            decision = ledger.next_decision(conn, issue_id)
        later = time.time() + self.settings.send_poll_seconds
        return min(later, decision.timestamp()) if decision is not None else later

    def _maintain(self, issue_id: int, status: str) -> None:
        """Expire silent workers' leases and decide uncertain batches, every few seconds."""
        due = self._maintained.get(issue_id, 0.0) + min(self.settings.send_poll_seconds, 5.0)
        if time.time() < due:
            return
        self._maintained[issue_id] = time.time()
        with self._begin() as conn:
            self._settle(conn)  # before any lease is judged
            if status == "cancelled":  # rows given back after the cancel (a refused key, a resend) stay unsent
                ledger.cancel_pending(conn, issue_id)
            expired = ledger.expire_leases(conn, issue_id, decide_after=self.settings.send_reconcile_seconds)
            decided = ledger.reconcile(
                conn, issue_id, policy=self.settings.send_uncertain_policy,
                max_attempts=self.settings.send_max_attempts, cancelled=status == "cancelled",
            )  # fmt: skip
        if expired:
            log.warning("%d batches of issue %d are uncertain: their worker went silent", len(expired), issue_id)
        if any(decided.values()):
            log.info("reconciled uncertain rows of issue %d: %s", issue_id, decided)

    def _finish(self, conn, period: str) -> None:
        try:
            editorial.transition(conn, period, "sent", actor=f"worker {self.name}", reason="every row has an outcome")
        except IllegalTransition:
            return  # another worker finished it first, or it was paused or cancelled meanwhile
        self.report.finished.append(period)
        log.info("issue %s is sent", period)

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.report)

    # -- one batch

    def _rendered(self, period: str, batch: ledger.Claim) -> BatchMessage:
        """The sender thread's message for a claimed batch; a failure gives its rows back at once."""
        try:
            return self.message(period, batch)
        except BaseException:
            with self._begin() as conn:  # not sent: give the rows back rather than wait for the lease
                ledger.release(conn, batch.key, status=None, error="the worker failed before posting")
            raise

    def deliver(self, period: str, batch: ledger.Claim, message: BatchMessage | None = None) -> None:
        """Post one claimed batch until it has an outcome; a refused key stops the worker."""
        message = message or self.message(period, batch)
        self.report.batches += 1
        attempts = rate_limited = 0
        while True:
            first_try = not (attempts or rate_limited)
            slot = self._slot(batch, first=first_try)
            wait = max(0.0, slot - time.time())
            if attempts or rate_limited or wait > 1.0:
                self._extend(batch.key, wait)
            if wait > 0:
                time.sleep(wait)  # not interruptible: the slot is reserved, and the batch is committed
            if not (first_try and self._lease_covers(batch)) and not self._hold(batch.key):
                log.warning("batch %s lost its lease before its request and was not posted; "
                            "reconciliation decides its rows", batch.key)
                return
            result = self.backend.send_batch(message)
            self.report.requests += 1
            attempts += result.outcome is not Outcome.RATE_LIMITED
            if result.outcome is Outcome.RATE_LIMITED:
                rate_limited += 1
                if rate_limited < MAX_RATE_LIMITED:
                    self._wait_for_reset(batch.key, result)
                    continue
                attempts += 1
            if result.outcome in (Outcome.RETRY, Outcome.RATE_LIMITED) and attempts < self.settings.send_max_attempts:
                delay = self._backoff(attempts)
                self._extend(batch.key, delay)
                if self.stop.wait(delay):
                    # Asked to stop: every answer so far said "not taken", so the rows can go back.
                    with self._begin() as conn:
                        ledger.release(conn, batch.key, status=result.status, error="worker stopped while retrying")
                    return
                continue
            self._record(period, batch, result, attempts)
            return

    def _settle(self, conn: Connection) -> None:
        """Record the accepted batches the sender thread handed over (in the caller's transaction).

        Until then such a batch is in flight under its lease, as while its request was made: a
        worker that dies first leaves it to reconciliation, which SendGrid's events settle.
        """
        if not self._accepted:
            return
        with self._accepted_lock:
            accepted, self._accepted[:] = list(self._accepted), []
        for key, result, attempts in accepted:
            self.report.sent += ledger.record_accepted(
                conn, key, status=result.status, message_id=result.message_id, attempts=attempts
            )

    def _record(self, period: str, batch: ledger.Claim, result: BatchResult, attempts: int) -> None:
        outcome, key = result.outcome, batch.key
        if outcome is Outcome.ACCEPTED and self._accepted is not None:
            with self._accepted_lock:
                self._accepted.append((key, result, attempts))
            return
        with self._begin() as conn:
            if outcome is Outcome.ACCEPTED:
                self.report.sent += ledger.record_accepted(
                    conn, key, status=result.status, message_id=result.message_id, attempts=attempts
                )
            elif outcome is Outcome.UNCERTAIN:
                self.report.uncertain += ledger.mark_uncertain(
                    conn, key, error=result.error or "no answer", decide_after=self.settings.send_reconcile_seconds
                )
            elif outcome is Outcome.UNAUTHORIZED:
                ledger.release(conn, key, status=result.status, error=result.error or "API key refused")
            elif outcome is Outcome.TOO_LARGE and len(batch.rows) > 1:
                halves = ledger.split(conn, batch, worker=self.name, lease_seconds=self.settings.send_lease_seconds)
            else:  # REJECTED, TOO_LARGE alone, or RETRY/RATE_LIMITED with the attempts spent
                error = result.error or outcome.value
                if outcome in (Outcome.RETRY, Outcome.RATE_LIMITED):
                    error = f"gave up after {attempts} attempts: {error} (`curator retry {period}` tries again)"
                self.report.failed += ledger.record_failed(
                    conn, key, status=result.status, error=error, attempts=attempts
                )
        if outcome is Outcome.UNAUTHORIZED:
            raise DeliveryError(
                f"SendGrid refused the API key ({result.status}): check CURATOR_SENDGRID_API_KEY. "
                f"The send of {period} is stopped and stays `sending`; `curator send {period}` continues it."
            )
        if outcome is Outcome.TOO_LARGE and len(batch.rows) > 1:
            for half in halves:
                self.deliver(period, half)

    def _slot(self, batch: ledger.Claim, *, first: bool) -> float:
        """When this request may go out under the shared rate limits (the claim reserved the first)."""
        if not self.throttled:
            return 0.0
        if first and batch.not_before is not None:
            return batch.not_before
        with self._begin() as conn:
            return throttle.reserve(conn, self.settings, len(batch.rows))

    def _wait_for_reset(self, key: str, result: BatchResult) -> None:
        reset_at = result.retry_at or time.time() + 1.0
        with self._db_lock:
            throttle.slow_down(self.engine, self.settings, reset_at)
        delay = max(0.0, reset_at - time.time()) + random.uniform(0, 0.1)  # jitter: not every worker at once
        self._extend(key, delay)
        time.sleep(delay)

    def _backoff(self, attempts: int) -> float:
        """Exponential, with jitter: half the delay fixed, half random."""
        ceiling = min(self.settings.send_retry_max_seconds, self.settings.send_retry_base_seconds * 2 ** (attempts - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _lease_covers(self, batch: ledger.Claim) -> bool:
        """Whether the claim's own lease still outlasts a request (the timeout, and a margin).

        Then nobody can have taken the batch since this worker claimed it: leases expire only
        once past, and only an expired or answered batch is settled by anyone else. So its first
        request goes out without another round trip to the database (ledger.hold).
        """
        if batch.lease_until is None:
            return False
        left = (batch.lease_until - datetime.now(UTC)).total_seconds()
        return left >= self.settings.sendgrid_timeout + LEASE_MARGIN_S

    def _hold(self, key: str) -> bool:
        until = datetime.now(UTC) + timedelta(seconds=self.settings.send_lease_seconds)
        with self._begin() as conn:
            return ledger.hold(conn, key, until)

    def _extend(self, key: str, wait: float) -> None:
        until = datetime.now(UTC) + timedelta(seconds=wait + self.settings.send_lease_seconds)
        with self._begin() as conn:
            ledger.extend(conn, key, until)

    # -- rendering

    def message(self, period: str, batch: ledger.Claim) -> BatchMessage:
        """The batch's request: its variant's body (rendered once per worker) and each recipient's values."""
        body = self._body(batch.issue_id, period, batch.variant)
        values = render.values_maker(self.settings, pick_links=bool(self._content(batch.issue_id, period).pick_ids()))
        recipients = []
        for row in batch.rows:
            these = values(row.subscriber_id, row.email, row.name, row.id)
            recipients.append(Recipient(row.id, row.email, row.name, these, these["-unsubscribe_url-"]))
        return BatchMessage(issue=period, batch_key=batch.key, body=body, recipients=recipients)

    def _body(self, issue_id: int, period: str, variant: str) -> render.Rendered:
        key = (issue_id, variant)
        if key not in self._bodies:
            self._bodies[key] = render.render_variant(self._content(issue_id, period), variant, self.settings)
        return self._bodies[key]

    def _content(self, issue_id: int, period: str):
        if issue_id not in self._contents:
            from curator.sources import load_sources

            topics = [(t.name, t.title) for t in load_sources(self.settings.feeds).topics]
            with self._connect() as conn:
                self._contents[issue_id] = editorial.issue_content(conn, period, topics)
        return self._contents[issue_id]
