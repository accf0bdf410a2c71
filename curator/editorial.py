"""The issue's life: the one place an issue's status changes, and the audit log."""

from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import Connection, insert, select, update

from curator.content import IssueContent, PickView, Section
from curator.errors import CuratorError, IllegalTransition, NotFound
from curator.store.schema import audit_log, feeds, issues, items, now, picks

# Every legal move, and nothing else. `cancelled` is reachable from any state before sent.
TRANSITIONS: dict[str, set[str]] = {
    "draft": {"in_review", "approved", "cancelled"},
    "in_review": {"draft", "approved", "cancelled"},
    "approved": {"in_review", "sending", "cancelled"},
    "sending": {"paused", "sent", "cancelled"},
    "paused": {"sending", "cancelled"},
    "sent": set(),
    "cancelled": set(),
}
PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_period(text: str) -> str:
    """A period is YYYY-MM; anything else is refused with the form it takes."""
    if not PERIOD_RE.match(text or ""):
        raise CuratorError(f"period {text!r} is not of the form YYYY-MM (for example 2026-12)")
    return text


def coming_period(today: date | datetime) -> str:
    """The month after `today`: the issue being prepared now."""
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return f"{year:04d}-{month:02d}"


def audit(conn: Connection, actor: str, action: str, target: str = "", detail: str = "") -> None:
    conn.execute(
        insert(audit_log),
        {"actor": actor, "action": action, "target": target, "detail": detail, "at": now()},
    )


def get_issue(conn: Connection, period: str) -> dict:
    row = conn.execute(select(issues).where(issues.c.period == period)).mappings().first()
    if row is None:
        raise NotFound(f"there is no issue for {period}: run `curator draft {period}` first")
    return dict(row)


def ensure_issue(conn: Connection, period: str, actor: str) -> dict:
    """The period's issue, created as a draft when it does not exist yet."""
    parse_period(period)
    row = conn.execute(select(issues).where(issues.c.period == period)).mappings().first()
    if row is not None:
        return dict(row)
    conn.execute(
        insert(issues),
        {"period": period, "status": "draft", "subject": default_subject(period)},
    )
    audit(conn, actor, "issue.create", period)
    return get_issue(conn, period)


def default_subject(period: str) -> str:
    month = datetime.strptime(period, "%Y-%m").strftime("%B %Y")
    return f"Growth resources for {month}"


def transition(conn: Connection, period: str, to: str, actor: str, reason: str = "") -> dict:
    """Move an issue to status `to`, or raise IllegalTransition saying why not.

    The UPDATE is guarded by the status read, so two racing moves cannot both win.
    """
    issue = get_issue(conn, period)
    current = issue["status"]
    if to not in TRANSITIONS:
        raise IllegalTransition(f"{to!r} is not an issue status")
    if to not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing: it is final"
        raise IllegalTransition(
            f"issue {period} is {current}; it cannot become {to} (from {current}: {allowed})"
        )
    values: dict = {"status": to, "updated_at": now()}
    if to == "approved":
        values |= {"approved_at": now(), "approved_by": actor}
    elif to == "sending" and issue["send_started_at"] is None:
        values["send_started_at"] = now()
    elif to == "sent":
        values["sent_at"] = now()
    result = conn.execute(
        update(issues)
        .where(issues.c.period == period, issues.c.status == current)
        .values(**values)
    )
    if result.rowcount != 1:
        raise IllegalTransition(f"issue {period} changed while moving it to {to}; try again")
    audit(conn, actor, f"issue.{to}", period, f"{current} -> {to}" + (f": {reason}" if reason else ""))
    return get_issue(conn, period)


def issue_content(
    conn: Connection,
    period: str,
    topics: list[tuple[str, str]],
    *,
    include_suggested: bool = False,
) -> IssueContent:
    """What the issue says: its approved picks (and suggested ones for a preview) by topic.

    `topics` is [(name, title)] in feeds.yaml order; picks under an unknown topic come last.
    """
    issue = get_issue(conn, period)
    decisions = ("approved", "suggested") if include_suggested else ("approved",)
    rows = conn.execute(
        select(
            picks.c.topic, picks.c.blurb, items.c.title, items.c.canonical_url,
            items.c.summary_text, feeds.c.title.label("source"),
        )
        .join(items, items.c.id == picks.c.item_id)
        .outerjoin(feeds, feeds.c.id == items.c.feed_id)
        .where(picks.c.issue_id == issue["id"], picks.c.decision.in_(decisions))
        .order_by(picks.c.topic, picks.c.rank, picks.c.id)
    ).mappings()
    by_topic: dict[str, list[PickView]] = {}
    for row in rows:
        by_topic.setdefault(row["topic"], []).append(
            PickView(
                title=row["title"], url=row["canonical_url"], summary_text=row["summary_text"],
                blurb=row["blurb"], source=row["source"] or "",
            )
        )
    titles = dict(topics)
    order = [name for name, _ in topics] + sorted(set(by_topic) - set(titles))
    sections = tuple(
        Section(topic=name, title=titles.get(name, name.replace("-", " ").title()), picks=tuple(by_topic[name]))
        for name in order
        if by_topic.get(name)
    )
    return IssueContent(
        period=period, subject=issue["subject"], preheader=issue["preheader"],
        intro=issue["intro"], sections=sections,
    )
