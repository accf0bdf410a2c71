"""A pick's click: through Curator's redirect (/r/TOKEN/PICK), or from SendGrid's click events.

TOKEN is the recipient's signed link token (their ledger row: the issue and the person); PICK
must be a pick of that issue. The redirect's target comes from the database (the pick's
article), never from the URL: a forged or altered link gets a page, not a redirect anywhere. Every request
is recorded with its classification (curator.engagement.machines); the figures count unique
clicks, one per recipient and pick, people and machines apart.

SendGrid's click events are deduplicated against the redirect: an event for one of our /r/
links was already counted when the redirect answered; an event for a direct article link
(tracking off, or a link SendGrid tracked) is counted once per recipient and pick, and not
at all when the redirect already has that recipient's click on that pick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Connection, and_, func, insert, select, update

from curator.config import Settings
from curator.engagement import machines
from curator.errors import BadToken
from curator.store.schema import clicks, deliveries, items, picks
from curator.tokens import LinkClaim, read_link_token


@dataclass(frozen=True)
class Target:
    """Where a pick's link leads, and the ledger row that clicked it (None: a copy off the ledger)."""

    url: str
    issue_id: int
    pick_id: int
    delivery_id: int | None
    sent_at: datetime | None


def _safe_url(url: str | None) -> str | None:
    url = (url or "").strip()
    return url if urlsplit(url).scheme.lower() in ("http", "https") and urlsplit(url).netloc else None


def resolve(conn: Connection, claim: LinkClaim, pick_id: int) -> Target:
    """The pick a link names, checked against the token's delivery and its issue; BadToken when they disagree."""
    pick = conn.execute(
        select(picks.c.issue_id, picks.c.decision, items.c.canonical_url)
        .join(items, items.c.id == picks.c.item_id)
        .where(picks.c.id == pick_id)
    ).first()
    url = _safe_url(pick.canonical_url) if pick else None
    if pick is None or url is None or pick.decision == "rejected":
        raise BadToken("this link names a pick that is not in the issue")
    if claim.delivery_id == 0:  # a test copy: the link works and counts nothing
        return Target(url, pick.issue_id, pick_id, None, None)
    row = conn.execute(
        select(deliveries.c.issue_id, deliveries.c.sent_at).where(deliveries.c.id == claim.delivery_id)
    ).first()
    if row is None or row.issue_id != pick.issue_id or pick.decision != "approved":
        raise BadToken("this link does not belong to the issue it was sent in")
    return Target(url, pick.issue_id, pick_id, claim.delivery_id, row.sent_at)


def follow(
    conn: Connection,
    settings: Settings,
    token: str,
    pick_id: int,
    *,
    method: str,
    user_agent: str | None,
    ip: str | None,
    at: datetime | None = None,
) -> str:
    """Record one request on a pick's tracked link; the article's URL to redirect to (BadToken if forged)."""
    target = resolve(conn, read_link_token(settings, token), pick_id)
    if target.delivery_id is not None:
        at = at or datetime.now(UTC)
        reason = machines.click_reason(
            method=method, user_agent=user_agent, ip=ip, at=at, sent_at=target.sent_at,
            machine_seconds=settings.click_machine_seconds, extra_networks=settings.click_scanner_networks,
        )  # fmt: skip
        _record(conn, target, at, reason, "redirect")
    return target.url


def _record(conn: Connection, target: Target, at: datetime, reason: str, source: str) -> None:
    conn.execute(
        insert(clicks).values(
            issue_id=target.issue_id,
            pick_id=target.pick_id,
            delivery_id=target.delivery_id,
            at=at,
            human=not reason,
            reason=reason,
            source=source,
        )
    )
    if not reason:
        _burst(conn, target, at)


def _burst(conn: Connection, target: Target, at: datetime) -> None:
    """Every link of one message clicked within a second is a scanner: its clicks become machines'."""
    links = conn.execute(
        select(func.count()).select_from(picks)
        .where(picks.c.issue_id == target.issue_id, picks.c.decision == "approved")
    ).scalar_one()  # fmt: skip
    window = and_(
        clicks.c.delivery_id == target.delivery_id,
        clicks.c.at >= at - timedelta(seconds=machines.BURST_SECONDS),
        clicks.c.at <= at,
    )
    clicked = conn.execute(select(func.count(func.distinct(clicks.c.pick_id))).where(window)).scalar_one()
    if links >= 2 and clicked >= links:
        conn.execute(
            update(clicks).where(window, clicks.c.human).values(human=False, reason="every link within a second")
        )


def record_sendgrid_click(
    conn: Connection, event: dict, *, machine_seconds: float, extra_networks: tuple[str, ...] = ()
) -> bool:
    """Count a SendGrid click event unless the redirect already did; whether it was counted."""
    url = str(event.get("url") or "")
    if "/r/" in urlsplit(url).path:
        return False  # one of our tracked links: the redirect counted it
    try:
        delivery_id = int(event.get("delivery") or 0)
    except (TypeError, ValueError):
        return False
    row = conn.execute(
        select(deliveries.c.issue_id, deliveries.c.sent_at).where(deliveries.c.id == delivery_id)
    ).first()
    if row is None or not url:
        return False
    pick_id = conn.execute(
        select(picks.c.id).join(items, items.c.id == picks.c.item_id)
        .where(picks.c.issue_id == row.issue_id, items.c.canonical_url.in_({url, url.rstrip("/")}))
    ).scalar()  # fmt: skip
    if pick_id is None:
        return False  # the unsubscribe link, the archive, anything that is not a pick
    seen = conn.execute(
        select(clicks.c.source).where(clicks.c.delivery_id == delivery_id, clicks.c.pick_id == pick_id).limit(1)
    ).first()
    if seen is not None:
        return False
    at = _when(event.get("timestamp"))
    reason = machines.click_reason(
        method="GET", user_agent=str(event.get("useragent") or ""), ip=str(event.get("ip") or ""), at=at,
        sent_at=row.sent_at, machine_seconds=machine_seconds, extra_networks=extra_networks,
    )  # fmt: skip
    _record(conn, Target(url, row.issue_id, pick_id, delivery_id, row.sent_at), at, reason, "sendgrid")
    return True


def _when(stamp: object) -> datetime:
    try:
        return datetime.fromtimestamp(float(stamp), UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)
