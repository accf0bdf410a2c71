"""Starting, steering and watching a send: start, pause, resume, cancel, retry, status, dry run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from curator import editorial, render
from curator.config import Settings
from curator.deliver import ledger
from curator.deliver.links import insecure_links, require_secure_links
from curator.errors import CuratorError, IllegalTransition
from curator.store.schema import deliveries, send_batches
from curator.subscribers import audience_select

RATE_WINDOW_S = 60.0


def refuse_unapproved(issue: dict) -> None:
    """Only an approved issue is sent; say which command approves it."""
    status, period = issue["status"], issue["period"]
    if status in ("draft", "in_review"):
        raise CuratorError(
            f"issue {period} is {status.replace('_', ' ')}, not approved: an editor approves it with "
            f"`curator approve {period}` (or in the desk) before it can be sent"
        )
    if status == "cancelled":
        raise CuratorError(f"issue {period} was cancelled; a cancelled issue is never sent")
    if status == "paused":
        raise CuratorError(f"the send of {period} is paused: `curator resume {period}` continues it")


@dataclass(frozen=True)
class Started:
    period: str
    issue_id: int
    frozen: int  # rows added to the ledger now (0 when the send was already under way)
    resumed: bool  # the send was already under way: this continues it


def audience_size(engine: Engine) -> int:
    """How many people the issue would go to if it were sent now."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(audience_select().subquery())).scalar_one()


def start(engine: Engine, period: str, actor: str, settings: Settings | None = None) -> Started:
    """Freeze the audience and move the issue to sending; on a send under way, continue it.

    With `settings`, a send the workers would refuse (see deliver.links) is refused here first.
    """
    if settings is not None:
        require_secure_links(settings, engine, settings.delivery, actor=actor)
    with engine.begin() as conn:
        issue = editorial.get_issue(conn, period)
        refuse_unapproved(issue)
        if issue["status"] == "sent" and not ledger.has_pending(conn, issue["id"]):
            raise CuratorError(
                f"issue {period} was sent on {issue['sent_at']:%Y-%m-%d %H:%M} UTC; an issue is sent at most once "
                f"(`curator status {period}` shows its counts, `curator retry {period}` resends failures)"
            )
        if issue["status"] != "approved":
            return Started(period, issue["id"], 0, True)
        frozen = ledger.freeze(conn, issue["id"])
        editorial.transition(conn, period, "sending", actor, reason=f"{frozen} recipients")
        editorial.audit(conn, actor, "send.freeze", period, f"{frozen} recipients")
    return Started(period, issue["id"], frozen, False)


def pause(engine: Engine, period: str, actor: str) -> None:
    with engine.begin() as conn:
        editorial.transition(conn, period, "paused", actor, reason="workers stop after their current batch")


def resume(engine: Engine, period: str, actor: str) -> None:
    with engine.begin() as conn:
        editorial.transition(conn, period, "sending", actor, reason="resumed")


def cancel(engine: Engine, period: str, actor: str) -> int:
    """Cancel the issue; rows not yet claimed are cancelled (batches in flight finish)."""
    with engine.begin() as conn:
        issue = editorial.transition(conn, period, "cancelled", actor)
        count = ledger.cancel_pending(conn, issue["id"])
        editorial.audit(conn, actor, "send.cancel", period, f"{count} recipients not sent")
    return count


def retry(engine: Engine, period: str, actor: str) -> int:
    """Failed rows go back to pending; the next worker sends them (also after the issue is sent)."""
    with engine.begin() as conn:
        issue = editorial.get_issue(conn, period)
        if issue["status"] not in ("sending", "paused", "sent"):
            raise IllegalTransition(
                f"issue {period} is {issue['status']}: only a send under way or finished has failures to retry"
            )
        count = ledger.requeue_failed(conn, issue["id"])
        editorial.audit(conn, actor, "send.retry", period, f"{count} recipients queued again")
    return count


@dataclass(frozen=True)
class SendStatus:
    period: str
    status: str
    counts: dict[str, int]
    total: int
    rate: float  # recipients per second over the last minute
    seconds_left: float | None  # None when nothing is moving
    deliverability: dict[str, int]
    batches: dict[str, int]
    started_at: datetime | None
    sent_at: datetime | None

    @property
    def waiting(self) -> int:
        return sum(self.counts[s] for s in ledger.UNFINISHED)

    def as_json(self) -> dict:
        return {
            "period": self.period, "status": self.status, "counts": self.counts, "total": self.total,
            "rate_per_s": round(self.rate, 1),
            "seconds_left": None if self.seconds_left is None else round(self.seconds_left, 1),
            "deliverability": self.deliverability, "batches": self.batches,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
        }  # fmt: skip


def status(engine: Engine, period: str) -> SendStatus:
    """Counts by state, the rate over the last minute, the time left, and SendGrid's events."""
    from curator import events

    with engine.connect() as conn:
        issue = editorial.get_issue(conn, period)
        counts = ledger.counts(conn, issue["id"])
        moment = datetime.now(UTC)
        started = issue["send_started_at"]
        window = RATE_WINDOW_S if started is None else min(RATE_WINDOW_S, (moment - started).total_seconds())
        window = max(window, 1.0)
        recent = ledger.sent_since(conn, issue["id"], moment - timedelta(seconds=window))
        batches = dict(
            conn.execute(
                select(send_batches.c.state, func.count())
                .where(send_batches.c.issue_id == issue["id"])
                .group_by(send_batches.c.state)
            ).all()
        )
        deliverability = events.issue_counts(conn, issue["id"])
    rate = recent / window
    waiting = sum(counts[s] for s in ledger.UNFINISHED)
    seconds_left = 0.0 if waiting == 0 else (waiting / rate if rate > 0 else None)
    return SendStatus(
        period, issue["status"], counts, sum(counts.values()), rate, seconds_left, deliverability,
        {k: int(v) for k, v in batches.items()}, started, issue["sent_at"],
    )  # fmt: skip


def outcome_summary(engine: Engine, period: str) -> dict:
    """The send's failures by reason (most common first) and when its last recipient got an outcome."""
    with engine.connect() as conn:
        issue = editorial.get_issue(conn, period)
        d = deliveries
        failures = conn.execute(
            select(d.c.error, func.count())
            .where(d.c.issue_id == issue["id"], d.c.state == "failed")
            .group_by(d.c.error)
            .order_by(func.count().desc()).limit(20)
        ).all()
        last = conn.execute(select(func.max(d.c.sent_at)).where(d.c.issue_id == issue["id"])).scalar()
    reasons = [(reason or "no reason recorded", int(count)) for reason, count in failures]
    return {"failures": reasons, "last_sent_at": last}


@dataclass
class DryRun:
    period: str
    status: str
    total: int
    variants: list[tuple[str, int, str]] = field(default_factory=list)  # (variant, recipients, sample subject)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def dry_run(settings: Settings, engine: Engine, period: str) -> DryRun:
    """Render every variant and check what a send would need; nothing is written or sent."""
    from curator.deliver.backends import BatchMessage, Recipient
    from curator.deliver.sendgrid import MAX_ARGS_BYTES, MAX_BODY_BYTES, batch_body
    from curator.sources import load_sources

    with engine.connect() as conn:
        issue = editorial.get_issue(conn, period)
        if issue["status"] not in ("draft", "in_review"):
            refuse_unapproved(issue)
        topics = [(t.name, t.title) for t in load_sources(settings.feeds).topics]
        # Before approval, check what it would be with the suggested picks too.
        unapproved = issue["status"] in ("draft", "in_review")
        content = editorial.issue_content(conn, period, topics, include_suggested=unapproved)
        audience = audience_select().subquery()
        groups = conn.execute(
            select(audience.c.variant, func.count(), func.min(audience.c.subscriber_id))
            .group_by(audience.c.variant)
            .order_by(func.count().desc())
        ).all()
        samples = {
            row.subscriber_id: dict(row._mapping)
            for row in conn.execute(select(audience).where(audience.c.subscriber_id.in_([g[2] for g in groups])))
        }
    report = DryRun(period, issue["status"], sum(g[1] for g in groups))
    if not content.sections:
        report.problems.append(f"issue {period} has no approved picks: the email would be empty")
    if (note := insecure_links(settings)) is not None:
        # Only a real send is refused for it; the outbox is for development.
        (report.problems if settings.delivery != "outbox" else report.warnings).append(note)
    for variant, count, first_id in groups:
        body = render.render_variant(content, variant, settings)
        person = samples[first_id]
        # The largest delivery id a ledger may hold: the token's size is what is checked.
        values = render.recipient_values(
            settings, person, delivery_id=2**31 - 1, pick_links=bool(content.pick_ids())
        )
        report.variants.append((variant, count, render.personalize(body, values).subject))
        for part, text in (("HTML", body.html), ("text", body.text)):
            if "-unsubscribe_url-" not in text:
                report.problems.append(f"variant {variant or '(all topics)'}: the {part} part has no unsubscribe link")
        recipient = Recipient(0, person["email"], person["name"], values, values["-unsubscribe_url-"])
        request = batch_body(settings, BatchMessage(period, "0" * 32, body, [recipient]))
        one = len(json.dumps(request["personalizations"][0]).encode())
        full = len(json.dumps(request).encode()) + one * (settings.send_batch_size - 1)
        if full >= MAX_BODY_BYTES:
            report.problems.append(f"variant {variant}: a batch of {settings.send_batch_size} would be {full} bytes")
        if len(json.dumps(values).encode()) >= MAX_ARGS_BYTES:
            report.problems.append(f"variant {variant}: substitutions over {MAX_ARGS_BYTES} bytes")
    return report
