"""A subscriber's own account: the welcome, a resent confirmation, a new address, the reason and the undo.

Resending a confirmation is rate-limited like a fresh unsubscribe link (see _relink): the
audit log records each one by subscriber id, and that record is the limit. An address
change waits in `new_email` until a link mailed to the new address confirms it; until
then mail keeps going to the old one. Undoing an unsubscribe needs the person's own
signed unsubscribe link, and works for someone who had confirmed before.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select, update

from curator import tokens
from curator.config import Settings
from curator.editorial import audit
from curator.errors import BadToken, IllegalTransition, InvalidAddress
from curator.store.schema import audit_log, issues, now, subscribers, suppressions
from curator.subscribers._addresses import normalize_email
from curator.subscribers._lifecycle import PERMANENT_REASONS, Mailer, _move, find, get, is_suppressed, suppression
from curator.subscribers._relink import RESEND_AFTER

RESEND_ACTION = "subscriber.confirm-resend"
REASONS = {
    "too-many": "Too many emails",
    "not-relevant": "Not relevant to me",
    "never-asked": "I never asked for it",
    "other": "Another reason",
}


def confirmation_resend_due(conn: Connection, address: str) -> dict | None:
    """The pending subscriber to mail the confirmation again, or None (unknown, done, or too soon)."""
    email = normalize_email(address)
    sub = find(conn, email)
    if sub is None or sub["status"] != "pending" or is_suppressed(conn, email):
        return None
    recent = conn.execute(
        select(audit_log.c.id)
        .where(audit_log.c.action == RESEND_ACTION, audit_log.c.target == f"subscriber:{sub['id']}",
               audit_log.c.at > now() - RESEND_AFTER)
        .limit(1)
    ).first()
    return None if recent else sub


def record_confirmation_resend(conn: Connection, subscriber: dict) -> None:
    audit(conn, "web", RESEND_ACTION, f"subscriber:{subscriber['id']}", "the confirmation email was sent again")


def latest_issue(conn: Connection) -> str | None:
    """The period of the newest sent issue, for the welcome email's link."""
    return conn.execute(
        select(issues.c.period).where(issues.c.status == "sent").order_by(issues.c.period.desc()).limit(1)
    ).scalar()


def welcome_due(conn: Connection, subscriber_id: int) -> dict | None:
    """Mark an active subscriber welcomed and return them, once; None when already welcomed."""
    done = conn.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber_id, subscribers.c.status == "active", subscribers.c.welcomed_at.is_(None))
        .values(welcomed_at=now())
    ).rowcount
    return get(conn, subscriber_id) if done else None


def send_welcome(settings: Settings, subscriber: dict, latest: str | None, mailer: Mailer) -> None:
    from curator import render

    message = render.render_welcome(settings, subscriber, latest)
    mailer(settings, to=subscriber["email"], subject=message.subject, html=message.html, text=message.text,
           headers=render.list_unsubscribe_headers(settings, subscriber))


def request_address_change(conn: Connection, subscriber_id: int, address: str) -> dict:
    """Keep `address` waiting for its confirmation; InvalidAddress when it cannot be used."""
    sub = get(conn, subscriber_id)
    email = normalize_email(address)
    if email == sub["email"]:
        raise InvalidAddress(f"{email} is already your address")
    other = find(conn, email)
    blocked = suppression(conn, email)
    if (other is not None and other["id"] != sub["id"]) or (blocked and blocked["reason"] in PERMANENT_REASONS):
        raise InvalidAddress(f"{email} cannot be used: it already has a subscription, or cannot receive our mail")
    conn.execute(update(subscribers).where(subscribers.c.id == sub["id"]).values(new_email=email))
    return get(conn, sub["id"])


def send_address_confirmation(settings: Settings, subscriber: dict, mailer: Mailer) -> None:
    """Mail the link that confirms `new_email`, to the new address."""
    from curator import render

    message = render.render_address_change(settings, subscriber)
    mailer(settings, to=subscriber["new_email"], subject=message.subject, html=message.html, text=message.text)


def address_change(conn: Connection, settings: Settings, token: str) -> dict:
    """The subscriber whose waiting address this link confirms, or BadToken; changes nothing."""
    claim = tokens.read_token(settings, "address", token)
    sub = conn.execute(select(subscribers).where(subscribers.c.id == claim.subscriber_id)).mappings().first()
    if sub is None:
        raise BadToken("this address link names a subscriber who is no longer here: subscribe again")
    if sub["new_email"] is None and claim.matches(sub["email"]):
        return dict(sub)  # confirmed already
    if sub["new_email"] is None or not claim.matches(sub["new_email"]):
        raise BadToken("this address link is no longer valid: ask for the change again on your preferences page")
    return dict(sub)


def confirm_address_change(conn: Connection, settings: Settings, token: str) -> dict:
    """Move the subscriber to their confirmed new address; twice is fine."""
    sub = address_change(conn, settings, token)
    if sub["new_email"] is None:
        return sub
    new = sub["new_email"]
    if find(conn, new) is not None:
        raise BadToken(f"{new} has a subscription of its own meanwhile; the change cannot be made")
    conn.execute(update(subscribers).where(subscribers.c.id == sub["id"]).values(email=new, new_email=None))
    audit(conn, "web", "subscriber.address", f"subscriber:{sub['id']}", "the new address was confirmed")
    return get(conn, sub["id"])


def record_unsubscribe_reason(conn: Connection, subscriber_id: int, reason: str) -> None:
    """Keep the answer to "why?" (one of REASONS) on an unsubscribed subscriber; anything else is ignored."""
    if reason in REASONS:
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id == subscriber_id, subscribers.c.status == "unsubscribed")
            .values(unsubscribe_reason=reason)
        )


def undo_unsubscribe(conn: Connection, subscriber_id: int) -> dict:
    """Back to active, as before the unsubscribe; IllegalTransition when they never confirmed or bounced since."""
    sub = get(conn, subscriber_id)
    if sub["status"] == "active":
        return sub
    if sub["status"] != "unsubscribed" or sub["confirmed_at"] is None:
        raise IllegalTransition(f"{sub['email']} is {sub['status']}: subscribe again on the public form instead")
    unsubscribed = (suppressions.c.email == sub["email"]) & (suppressions.c.reason == "unsubscribed")
    conn.execute(delete(suppressions).where(unsubscribed))
    return _move(conn, sub, "active", confirmed_at=sub["confirmed_at"], unsubscribed_at=None, unsubscribe_reason=None)
