"""Alerts: something needs a person (a missed or blocked send, a failed job). Recorded, then emailed.

The row in `alerts` is the record and the ops console shows it; the email is a courtesy
that may fail (a bad SendGrid key is itself a reason for an alert) without losing it.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable

from sqlalchemy import Connection, Engine, func, insert, select, update

from curator.config import Settings
from curator.editorial import audit
from curator.errors import NotFound
from curator.store.schema import alerts, now

log = logging.getLogger("curator.alerts")

OPS, EDITORS = "ops", "editors"
TITLES = {
    "send_missed": "The monthly send was missed",
    "send_unapproved": "The issue is not approved: it was not sent",
    "send_no_issue": "There is no issue to send",
    "send_failed": "The send job failed",
    "draft_failed": "The draft job failed",
    "ingest_failed": "The ingest job failed",
    "deliver_failed": "The scheduler's delivery pass failed",
    "send_refused": "A send was refused",
}


def raise_alert(
    settings: Settings,
    engine: Engine,
    kind: str,
    message: str,
    *,
    period: str | None = None,
    notify: Iterable[str] = (OPS,),
    actor: str = "scheduler",
) -> int:
    """Record an alert (and its audit line), then email the groups in `notify`; returns its id."""
    with engine.begin() as conn:
        alert_id = conn.execute(
            insert(alerts).returning(alerts.c.id),
            {"at": now(), "kind": kind, "period": period, "message": message, "acknowledged": False},
        ).scalar_one()
        audit(conn, actor, f"alert.{kind}", period or "", message)
    log.warning("alert %s: %s", kind, message, extra={"alert": kind, "period": period})
    _email(settings, kind, message, period, recipients(settings, notify))
    return alert_id


def recipients(settings: Settings, notify: Iterable[str]) -> list[str]:
    """The addresses of the groups named, each once."""
    groups = {OPS: settings.ops_emails, EDITORS: settings.editor_emails}
    seen: dict[str, None] = {}
    for group in notify:
        for address in groups[group]:
            seen.setdefault(address.lower(), None)
    return list(seen)


def _email(settings: Settings, kind: str, message: str, period: str | None, to: list[str]) -> None:
    if not to:
        return
    from curator.deliver import send_transactional

    title = TITLES.get(kind, kind.replace("_", " ").capitalize())
    subject = f"[Curator] {title}" + (f" ({period})" if period else "")
    link = f"{settings.base_url.rstrip('/')}/ops"
    text = f"{title}\n\n{message}\n\nThe ops console: {link}\n"
    body = (
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
        f'<p><a href="{html.escape(link)}">Open the ops console</a></p>'
    )
    for address in to:
        try:
            send_transactional(settings, to=address, subject=subject, html=body, text=text)
        except Exception:  # the alert is recorded; an email that fails must not hide it
            log.exception("could not email the %s alert to %s", kind, address)


def list_alerts(conn: Connection, *, open_only: bool = False, limit: int = 50) -> list[dict]:
    """Newest first; `open_only` leaves out the acknowledged ones."""
    query = select(alerts).order_by(alerts.c.at.desc(), alerts.c.id.desc()).limit(limit)
    if open_only:
        query = query.where(alerts.c.acknowledged.is_(False))
    return [dict(row) for row in conn.execute(query).mappings()]


def count_open(conn: Connection) -> int:
    return conn.execute(select(func.count()).where(alerts.c.acknowledged.is_(False))).scalar_one()


def acknowledge(conn: Connection, alert_id: int, actor: str) -> None:
    """A person saw it and acts: it leaves the open list (and stays in the history)."""
    done = conn.execute(
        update(alerts).where(alerts.c.id == alert_id).values(acknowledged=True)
    ).rowcount
    if done != 1:
        raise NotFound(f"there is no alert {alert_id}")
    audit(conn, actor, "alert.acknowledge", str(alert_id))
