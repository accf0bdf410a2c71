"""A fresh unsubscribe link for someone whose link broke: who gets one, and how often.

The page that asks for it answers the same whatever the address, so it cannot tell who
subscribes. A link goes only to an address still mailed (active or pending, not
suppressed), at most once every RESEND_AFTER. The audit log records each one, naming the
subscriber by id and never by address, and that record is the rate limit.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, select

from curator.config import Settings
from curator.editorial import audit
from curator.store.schema import audit_log, now
from curator.subscribers._addresses import normalize_email
from curator.subscribers._lifecycle import Mailer, find, is_suppressed

RELINK_ACTION = "subscriber.unsubscribe-link"
RESEND_AFTER = timedelta(minutes=10)


def _target(subscriber: dict) -> str:
    return f"subscriber:{subscriber['id']}"


def unsubscribe_link_due(conn: Connection, address: str) -> dict | None:
    """The subscriber to mail a fresh unsubscribe link, or None; InvalidAddress when `address` is malformed."""
    email = normalize_email(address)
    sub = find(conn, email)
    if sub is None or sub["status"] not in ("active", "pending") or is_suppressed(conn, email):
        return None
    recent = conn.execute(
        select(audit_log.c.id)
        .where(audit_log.c.action == RELINK_ACTION, audit_log.c.target == _target(sub),
               audit_log.c.at > now() - RESEND_AFTER)
        .limit(1)
    ).first()
    return None if recent else sub


def send_unsubscribe_link(settings: Settings, subscriber: dict, mailer: Mailer) -> None:
    """Mail a subscriber their own unsubscribe link."""
    from curator import render

    message = render.render_unsubscribe_link(settings, subscriber)
    mailer(settings, to=subscriber["email"], subject=message.subject, html=message.html, text=message.text)


def record_unsubscribe_link(conn: Connection, subscriber: dict, actor: str) -> None:
    """Note that a link went out: the next one waits RESEND_AFTER."""
    audit(conn, actor, RELINK_ACTION, _target(subscriber), "a fresh unsubscribe link was mailed")
