"""An editor's changes to one pick beyond the decision: its words, its topic, its place, featuring it.

Each changed field gets its own audit entry (`pick.edit.title`, `pick.edit.topic`, ...), so the
log says exactly what changed. The item's own title and summary are never overwritten: an edit
lives on the pick, for this issue, and clearing it shows the original again.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select, update

from curator.editorial import audit, editable_issue, get_pick
from curator.errors import CuratorError
from curator.store.schema import picks

TITLE_LIMIT, SUMMARY_LIMIT, BLURB_LIMIT = 300, 2000, 2000


def edit_pick(
    conn: Connection, pick_id: int, actor: str, *, known_topics: list[str], title: str | None = None,
    summary: str | None = None, topic: str | None = None, featured: bool | None = None,
    blurb: str | None = None,
) -> list[str]:
    """Apply the fields given (None: leave it); returns the names of those that changed."""
    pick = get_pick(conn, pick_id)
    issue = editable_issue(conn, pick["period"])
    values: dict = {}
    if title is not None:
        values["title"] = _own(" ".join(title.split()), pick["original_title"], "title", TITLE_LIMIT, pick_id)
    if summary is not None:
        values["summary"] = _own(summary.strip(), pick["original_summary"], "summary", SUMMARY_LIMIT, pick_id)
    if blurb is not None:
        values["blurb"] = _checked(blurb.strip(), "blurb", BLURB_LIMIT, pick_id)
    if topic is not None and topic != pick["topic"]:
        if topic not in known_topics:
            raise CuratorError(f"{topic!r} is not a topic of feeds.yaml: choose one of {', '.join(known_topics)}")
        last = conn.execute(
            select(func.max(picks.c.rank)).where(picks.c.issue_id == issue["id"], picks.c.topic == topic)
        ).scalar()
        values |= {"topic": topic, "rank": (last or 0) + 1}  # it joins the end of its new topic
    if featured is not None:
        values["featured"] = featured
    current = {"title": pick["edited_title"], "summary": pick["edited_summary"], "blurb": pick["blurb"],
               "topic": pick["topic"], "featured": bool(pick["featured"]), "rank": pick["rank"]}
    changed = {name: value for name, value in values.items() if value != current[name]}
    if changed.get("featured"):
        _feature(conn, issue["id"], pick, actor)
    if changed:
        conn.execute(update(picks).where(picks.c.id == pick_id).values(**changed))
    target = f"{pick['period']}#{pick_id}"
    for name, value in changed.items():
        if name != "rank":
            audit(conn, actor, f"pick.edit.{name}", target, _shown(name, value, pick))
    return [name for name in changed if name != "rank"]


def _own(value: str, original: str, name: str, limit: int, pick_id: int) -> str | None:
    """The editor's version, or None when it is blank or the original: the item's own words show."""
    _checked(value, name, limit, pick_id)
    return None if not value or value == (original or "").strip() else value


def _checked(value: str, name: str, limit: int, pick_id: int) -> str:
    if len(value) > limit:
        raise CuratorError(f"the {name} of pick #{pick_id} has {len(value)} characters; keep it under {limit:,}")
    return value


def _shown(name: str, value: object, pick: dict) -> str:
    if name == "topic":
        return f"{pick['topic']} -> {value}"
    if value is None:
        return "back to the original"
    return str(value)[:200]


def _feature(conn: Connection, issue_id: int, pick: dict, actor: str) -> None:
    """One featured pick per issue: featuring one unfeatures the other; only an approved pick may be."""
    if pick["decision"] != "approved":
        raise CuratorError(
            f"pick #{pick['id']} is {pick['decision']}: approve it before featuring it (only approved picks go out)"
        )
    previous = conn.execute(
        select(picks.c.id).where(picks.c.issue_id == issue_id, picks.c.featured.is_(True), picks.c.id != pick["id"])
    ).scalar()
    if previous is not None:
        conn.execute(update(picks).where(picks.c.id == previous).values(featured=False))
        audit(conn, actor, "pick.edit.featured", f"{pick['period']}#{previous}", "False (another pick is featured)")


def reorder(conn: Connection, period: str, topic: str, order: list[int], actor: str) -> bool:
    """Put a topic's active picks in `order` (ids; those left out keep their relative place after).

    The ranks reuse the topic's slots, so rejected picks keep theirs. False when nothing moved.
    """
    issue = editable_issue(conn, period)
    rows = conn.execute(
        select(picks.c.id, picks.c.rank)
        .where(picks.c.issue_id == issue["id"], picks.c.topic == topic, picks.c.decision != "rejected")
        .order_by(picks.c.rank, picks.c.id)
    ).all()
    ids = [row.id for row in rows]
    unknown = [pid for pid in order if pid not in ids]
    if unknown:
        raise CuratorError(
            f"pick #{unknown[0]} is not an active pick of {topic} in {period}: reload the desk and try again"
        )
    wanted = list(dict.fromkeys(order)) + [pid for pid in ids if pid not in order]
    if wanted == ids:
        return False
    slots = sorted(row.rank for row in rows)
    for i in range(1, len(slots)):
        slots[i] = max(slots[i], slots[i - 1] + 1)
    for pid, rank in zip(wanted, slots, strict=True):
        conn.execute(update(picks).where(picks.c.id == pid).values(rank=rank))
    audit(conn, actor, "pick.reorder", f"{period}/{topic}", " ".join(f"#{pid}" for pid in wanted)[:2000])
    return True
