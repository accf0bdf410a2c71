"""The issue's life: the one place an issue's status changes, and the audit log."""

from __future__ import annotations

import re
from datetime import date, datetime

from markupsafe import escape
from sqlalchemy import Connection, func, insert, select, update

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


WORDS_PER_MINUTE = 230  # reading time shown to editors and readers (as curator/ingest/article.py)

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
            picks.c.id, picks.c.topic, picks.c.blurb, func.coalesce(picks.c.title, items.c.title).label("title"),
            items.c.canonical_url, func.coalesce(picks.c.summary, items.c.summary_text).label("summary_text"),
            items.c.word_count, items.c.published_at, feeds.c.title.label("source"), picks.c.featured, picks.c.decision,
        )
        .join(items, items.c.id == picks.c.item_id)
        .outerjoin(feeds, feeds.c.id == items.c.feed_id)
        .where(picks.c.issue_id == issue["id"], picks.c.decision.in_(decisions))
        .order_by(picks.c.topic, picks.c.rank, picks.c.id)
    ).mappings()
    by_topic: dict[str, list[PickView]] = {}
    featured: PickView | None = None
    for row in rows:
        view = PickView(
            title=row["title"], url=row["canonical_url"], summary_text=row["summary_text"],
            blurb=row["blurb"], source=row["source"] or "", pick_id=row["id"],
            published=row["published_at"].date() if row["published_at"] else None,
            reading_minutes=-(-row["word_count"] // WORDS_PER_MINUTE) if row["word_count"] else None,
        )
        if row["featured"] and row["decision"] == "approved":
            featured = view  # at the top of the issue, for everyone, and not again in its topic
        else:
            by_topic.setdefault(row["topic"], []).append(view)
    titles = dict(topics)
    order = [name for name, _ in topics] + sorted(set(by_topic) - set(titles))
    sections = tuple(
        Section(topic=name, title=titles.get(name, name.replace("-", " ").title()), picks=tuple(by_topic[name]))
        for name in order
        if by_topic.get(name)
    )
    return IssueContent(
        period=period, subject=issue["subject"], preheader=issue["preheader"],
        intro=issue["intro"], sections=sections, featured=featured,
    )


# --- an editor's work on an issue: only while it is a draft or in review ----------------

EDITABLE = ("draft", "in_review")


def require_editable(issue: dict) -> None:
    """Refuse edits to an issue that left review, saying how to get it back."""
    status, period = issue["status"], issue["period"]
    if status in EDITABLE:
        return
    if status == "approved":
        hint = "reopen it for edits first (the desk's Reopen button) to move it back to in_review"
    else:
        hint = "it can no longer change"
    raise IllegalTransition(
        f"issue {period} is {status}: picks and text change only while it is a draft or in review; {hint}"
    )


def editable_issue(conn: Connection, period: str) -> dict:
    issue = get_issue(conn, period)
    require_editable(issue)
    return issue


def list_picks(conn: Connection, period: str) -> list[dict]:
    """The issue's picks by topic and rank, each with its item, source, score and parts."""
    issue = get_issue(conn, period)
    rows = conn.execute(
        _pick_query().where(picks.c.issue_id == issue["id"]).order_by(picks.c.topic, picks.c.rank, picks.c.id)
    ).mappings()
    return [dict(row) for row in rows]


def get_pick(conn: Connection, pick_id: int) -> dict:
    row = conn.execute(_pick_query().where(picks.c.id == pick_id)).mappings().first()
    if row is None:
        raise NotFound(f"there is no pick #{pick_id}: `curator picks PERIOD` lists an issue's picks")
    return dict(row)


def _pick_query():
    return (
        select(
            picks.c.id, picks.c.item_id.label("item"), func.coalesce(picks.c.title, items.c.title).label("title"),
            items.c.canonical_url.label("url"), picks.c.topic, picks.c.rank, picks.c.score, picks.c.parts,
            picks.c.decision, picks.c.blurb, picks.c.decided_by,
            func.coalesce(picks.c.summary, items.c.summary_text).label("summary_text"), items.c.manual,
            items.c.published_at, items.c.word_count, feeds.c.title.label("source"), items.c.feed_id, issues.c.period,
            # The item's own words, kept when an editor rewrites them for this issue.
            items.c.title.label("original_title"), items.c.summary_text.label("original_summary"),
            picks.c.title.label("edited_title"), picks.c.summary.label("edited_summary"),
            picks.c.featured, picks.c.created_at,
        )
        .join(items, items.c.id == picks.c.item_id)
        .join(issues, issues.c.id == picks.c.issue_id)
        .outerjoin(feeds, feeds.c.id == items.c.feed_id)
    )


def decide_pick(conn: Connection, pick_id: int, decision: str, actor: str) -> dict:
    """Approve, reject or return a pick to suggested."""
    if decision not in ("approved", "rejected", "suggested"):
        raise CuratorError(f"{decision!r} is not a decision: use approved, rejected or suggested")
    pick = get_pick(conn, pick_id)
    editable_issue(conn, pick["period"])
    values: dict = {"decision": decision, "decided_by": actor, "decided_at": now()}
    if decision != "approved":
        values["featured"] = False  # only an approved pick goes out, featured or not
    conn.execute(update(picks).where(picks.c.id == pick_id).values(**values))
    audit(conn, actor, f"pick.{decision}", f"{pick['period']}#{pick_id}", pick["title"][:200])
    return get_pick(conn, pick_id)


def move_pick(conn: Connection, pick_id: int, direction: str, actor: str) -> bool:
    """Swap a pick with its neighbour (rejected picks aside) in its topic; False at either end."""
    if direction not in ("up", "down"):
        raise CuratorError(f"{direction!r} is not a direction: use up or down")
    pick = get_pick(conn, pick_id)
    issue = editable_issue(conn, pick["period"])
    rows = conn.execute(
        select(picks.c.id, picks.c.rank)
        .where(picks.c.issue_id == issue["id"], picks.c.topic == pick["topic"], picks.c.decision != "rejected")
        .order_by(picks.c.rank, picks.c.id)
    ).all()
    ids = [row.id for row in rows]
    if pick_id not in ids:
        raise CuratorError(f"pick #{pick_id} is rejected: approve it or return it to suggested before moving it")
    at = ids.index(pick_id)
    other = at - 1 if direction == "up" else at + 1
    if not 0 <= other < len(ids):
        return False
    ids[at], ids[other] = ids[other], ids[at]
    # Reuse the same rank slots, so rejected picks keep theirs; distinct slots even if ranks were tied.
    slots = sorted(row.rank for row in rows)
    for i in range(1, len(slots)):
        slots[i] = max(slots[i], slots[i - 1] + 1)
    for pid, rank in zip(ids, slots, strict=True):
        conn.execute(update(picks).where(picks.c.id == pid).values(rank=rank))
    audit(conn, actor, f"pick.move_{direction}", f"{pick['period']}#{pick_id}", pick["title"][:200])
    return True


def set_blurb(conn: Connection, pick_id: int, blurb: str, actor: str) -> dict:
    """The editor's words on a pick, shown instead of the feed's summary in emails, previews and the archive."""
    blurb = blurb.strip()
    if len(blurb) > 2000:
        raise CuratorError(f"the blurb of pick #{pick_id} has {len(blurb)} characters; keep it under 2,000")
    pick = get_pick(conn, pick_id)
    editable_issue(conn, pick["period"])
    conn.execute(update(picks).where(picks.c.id == pick_id).values(blurb=blurb))
    audit(conn, actor, "pick.blurb", f"{pick['period']}#{pick_id}", blurb[:200])
    return get_pick(conn, pick_id)


def edit_issue(conn: Connection, period: str, actor: str, *, subject: str, preheader: str, intro: str) -> dict:
    """Change the issue's subject line, preheader and introduction."""
    subject, preheader, intro = " ".join(subject.split()), " ".join(preheader.split()), intro.strip()
    if not subject:
        raise CuratorError(f"issue {period}: the subject cannot be empty; subscribers see it first")
    for name, value, limit in (("subject", subject, 300), ("preheader", preheader, 300), ("intro", intro, 10_000)):
        if len(value) > limit:
            raise CuratorError(f"issue {period}: the {name} has {len(value)} characters; the limit is {limit}")
    issue = editable_issue(conn, period)
    values = {"subject": subject, "preheader": preheader, "intro": intro}
    changed = {name: value for name, value in values.items() if value != issue[name]}
    if not changed:
        return issue
    conn.execute(update(issues).where(issues.c.period == period).values(**changed, updated_at=now()))
    # Only what changed: an entry saying "subject: ..." when the intro changed would mislead.
    audit(conn, actor, "issue.edit", period, "; ".join(f"{name}: {value[:200]}" for name, value in changed.items()))
    return get_issue(conn, period)


def add_link(
    conn: Connection, period: str, *, url: str, title: str, summary: str, topic: str, actor: str
) -> dict:
    """A link an editor found: it becomes a manual item and an approved pick at the end of `topic`."""
    url, title, summary = url.strip(), " ".join(title.split()), summary.strip()
    if not re.match(r"^https?://[^\s/]+", url):
        raise CuratorError(f"{url!r} is not a web address: give a full http:// or https:// URL")
    if not title:
        raise CuratorError(f"the link {url} needs a title: type one, the page did not give it")
    issue = editable_issue(conn, period)
    canonical = url.split("#", 1)[0]
    item_id = conn.execute(select(items.c.id).where(items.c.canonical_url == canonical)).scalar()
    if item_id is None:
        item_id = conn.execute(
            insert(items).values(
                url=url, canonical_url=canonical, title=title, title_key=" ".join(re.findall(r"\w+", title.lower())),
                summary_text=summary, summary_html=f"<p>{escape(summary)}</p>" if summary else "",
                published_at=now(), first_seen_at=now(), manual=True,
            )
        ).inserted_primary_key[0]
    already = conn.execute(
        select(picks.c.id, picks.c.topic).where(picks.c.issue_id == issue["id"], picks.c.item_id == item_id)
    ).first()
    if already is not None:
        raise CuratorError(f"{canonical} is already in issue {period}: pick #{already.id} under {already.topic}")
    last = conn.execute(
        select(func.max(picks.c.rank)).where(picks.c.issue_id == issue["id"], picks.c.topic == topic)
    ).scalar()
    pick_id = conn.execute(
        insert(picks).values(
            issue_id=issue["id"], item_id=item_id, topic=topic, rank=(last or 0) + 1, score=0.0,
            parts={"manual": True, "added_by": actor}, decision="approved", decided_by=actor, decided_at=now(),
        )
    ).inserted_primary_key[0]
    audit(conn, actor, "pick.add", f"{period}#{pick_id}", canonical)
    return get_pick(conn, pick_id)


def approve_all(conn: Connection, period: str, quotas: dict[str, int], actor: str) -> int:
    """Approve the suggested picks among each topic's first `quota` (rejected aside); how many.

    One audit entry for the lot: it was one decision, and thirty lines would bury the others.
    """
    editable_issue(conn, period)
    by_topic: dict[str, list[dict]] = {}
    for pick in list_picks(conn, period):
        if pick["decision"] != "rejected":
            by_topic.setdefault(pick["topic"], []).append(pick)
    chosen = [pick for topic, quota in quotas.items() for pick in by_topic.get(topic, [])[:quota]
              if pick["decision"] == "suggested"]
    if chosen:
        conn.execute(
            update(picks).where(picks.c.id.in_([p["id"] for p in chosen]))
            .values(decision="approved", decided_by=actor, decided_at=now())
        )
        detail = f"{len(chosen)} picks: " + ", ".join(f"#{p['id']}" for p in chosen)
        audit(conn, actor, "pick.approve_quota", period, detail[:2000])
    return len(chosen)


def approval_warnings(conn: Connection, period: str, topics: list[tuple[str, str]]) -> list[str]:
    """A line for each topic that would go out without a single approved pick."""
    have = {p["topic"] for p in list_picks(conn, period) if p["decision"] == "approved"}
    return [f"{title} ({name}) has no approved picks: its section will be missing" for name, title in topics
            if name not in have]


def approve_issue(conn: Connection, period: str, actor: str, topics: list[tuple[str, str]]) -> list[str]:
    """Approve the issue for sending; returns the warnings (topics without approved picks)."""
    issue = editable_issue(conn, period)
    rows = list_picks(conn, period)
    if not any(p["decision"] == "approved" for p in rows):
        raise CuratorError(_nothing_approved(period, [p["decision"] for p in rows]))
    warnings = approval_warnings(conn, period, topics)
    transition(conn, issue["period"], "approved", actor, reason="; ".join(warnings))
    return warnings


def _nothing_approved(period: str, decisions: list[str]) -> str:
    """Why an issue cannot be approved yet, and the step that helps (never the one just taken)."""
    if not decisions:
        return (
            f"issue {period} has no picks at all, so there is nothing to approve: build its draft first "
            f"(`curator draft {period}`); if that adds no candidates, run `curator ingest` to fetch new items"
        )
    if "suggested" not in decisions:
        return (
            f"issue {period} has no approved picks, only rejected ones: approve some (`curator pick approve ID`; "
            f"`curator picks {period}` lists them) or add candidates (`curator draft {period}`)"
        )
    return (
        f"issue {period} has no approved picks: approve some first (`curator approve {period} --all` "
        "approves the suggested picks within each topic's quota)"
    )
