"""What readers did with an issue: the report's figures, the trend of the last issues, per-source counts.

Human figures first, machines' beside them. A click figure counts unique clicks: one per
recipient and pick (a reader who clicks twice is one click). A recipient's click on a pick is
human when any of their requests on it was; it is a machine's when all were. Raw rows past
retention are folded per recipient (curator.engagement.retention) into click_totals (per pick
and variant) and issue_click_totals (the issue's clickers), which every figure here adds in.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass, field

from sqlalchemy import Connection, Integer, and_, cast, func, select

from curator import events as sg_events
from curator.content import ONLY_PREFIX
from curator.engagement import machines
from curator.errors import NotFound
from curator.store.schema import (
    click_totals,
    clicks,
    deliveries,
    events,
    feedback,
    feeds,
    issue_click_totals,
    issues,
    items,
    picks,
    suppressions,
)

REPORTED = ("sending", "paused", "sent")  # issues with a send
TREND_ISSUES = 12
TOP_PICKS = 5


@dataclass
class PickFigures:
    pick_id: int
    topic: str
    rank: int
    title: str
    url: str
    source: str
    human_clicks: int = 0
    machine_clicks: int = 0
    more: int = 0
    less: int = 0


@dataclass
class Group:
    """Figures of a topic or a variant: recipients, and unique clicks on its picks."""

    name: str
    recipients: int = 0
    human_clicks: int = 0
    machine_clicks: int = 0


@dataclass
class Report:
    period: str
    status: str
    sent: int
    delivered: int
    bounced: int
    complaints: int
    unsubscribes: int
    unsubscribe_reasons: dict[str, int]
    human_opens: int
    machine_opens: int
    human_clickers: int  # recipients with at least one human click
    machine_clickers: int  # recipients whose every click was a machine's
    picks: list[PickFigures] = field(default_factory=list)
    topics: list[Group] = field(default_factory=list)
    variants: list[Group] = field(default_factory=list)
    top: list[PickFigures] = field(default_factory=list)
    trend: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _issue(conn: Connection, period: str) -> dict:
    row = conn.execute(select(issues).where(issues.c.period == period)).mappings().first()
    if row is None:
        raise NotFound(
            f"there is no issue for {period}: check the month (YYYY-MM); the ops console's Readers page lists them"
        )
    return dict(row)


def unique_clicks(conn: Connection, issue_id: int) -> dict[tuple[int, int], bool]:
    """(delivery, pick) -> human? for every raw click of an issue."""
    rows = conn.execute(
        select(clicks.c.delivery_id, clicks.c.pick_id, func.max(cast(clicks.c.human, Integer)))
        .where(clicks.c.issue_id == issue_id)
        .group_by(clicks.c.delivery_id, clicks.c.pick_id)
    ).all()
    return {(d, p): bool(h) for d, p, h in rows}


def pick_figures(conn: Connection, issue_id: int, pairs: dict[tuple[int, int], bool]) -> list[PickFigures]:
    rows = conn.execute(
        select(picks.c.id, picks.c.topic, picks.c.rank, items.c.title, items.c.canonical_url,
               feeds.c.title.label("source"))
        .join(items, items.c.id == picks.c.item_id)
        .outerjoin(feeds, feeds.c.id == items.c.feed_id)
        .where(picks.c.issue_id == issue_id, picks.c.decision == "approved")
        .order_by(picks.c.topic, picks.c.rank, picks.c.id)
    ).all()  # fmt: skip
    out = {r.id: PickFigures(r.id, r.topic, r.rank, r.title, r.canonical_url, r.source or "") for r in rows}
    for (_, pick_id), human in pairs.items():
        if pick_id in out:
            if human:
                out[pick_id].human_clicks += 1
            else:
                out[pick_id].machine_clicks += 1
    for row in conn.execute(select(click_totals).where(click_totals.c.issue_id == issue_id)):  # one per variant
        if row.pick_id in out:
            out[row.pick_id].human_clicks += row.human
            out[row.pick_id].machine_clicks += row.machine
    votes = conn.execute(
        select(feedback.c.pick_id, feedback.c.vote, func.count())
        .where(feedback.c.issue_id == issue_id)
        .group_by(feedback.c.pick_id, feedback.c.vote)
    ).all()
    for pick_id, vote, count in votes:
        if pick_id in out:
            if vote > 0:
                out[pick_id].more += count
            else:
                out[pick_id].less += count
    return list(out.values())


def opens(conn: Connection, issue_id: int, extra_networks=()) -> tuple[int, int]:
    """(human, machine) openers: an address is a human opener if any of its opens was a person's."""
    human: set[str] = set()
    seen: set[str] = set()
    rows = conn.execute(
        select(events.c.email, events.c.payload).where(events.c.issue_id == issue_id, events.c.event == "open")
    )
    for email, payload in rows:
        key = email or str((payload or {}).get("sg_event_id"))
        seen.add(key)
        if not machines.open_reason(payload or {}, extra_networks):
            human.add(key)
    return len(human), len(seen - human)


def unsubscribe_reasons(conn: Connection, issue: dict) -> Counter:
    """Why recipients of this issue unsubscribed after it went out (until the next issue's send)."""
    if issue["send_started_at"] is None:
        return Counter()
    later = conn.execute(
        select(func.min(issues.c.send_started_at)).where(issues.c.send_started_at > issue["send_started_at"])
    ).scalar()
    recipients = select(deliveries.c.email).where(deliveries.c.issue_id == issue["id"], deliveries.c.state == "sent")
    when = suppressions.c.created_at >= issue["send_started_at"]
    if later is not None:
        when = and_(when, suppressions.c.created_at < later)
    rows = conn.execute(
        select(suppressions.c.detail).where(
            suppressions.c.reason == "unsubscribed", suppressions.c.email.in_(recipients), when
        )
    ).scalars()
    return Counter((detail or "no reason given").split(":")[0] for detail in rows)


def _groups(conn: Connection, issue_id: int, pairs: dict, figures: list[PickFigures]) -> tuple[list, list]:
    recipients = dict(
        conn.execute(
            select(deliveries.c.variant, func.count())
            .where(deliveries.c.issue_id == issue_id, deliveries.c.state == "sent")
            .group_by(deliveries.c.variant)
        ).all()
    )
    topics: dict[str, Group] = {}
    for pick in figures:
        carried = sum(n for variant, n in recipients.items() if _carries(variant or "", pick.topic))
        group = topics.setdefault(pick.topic, Group(pick.topic, carried))
        group.human_clicks += pick.human_clicks
        group.machine_clicks += pick.machine_clicks
    variant_of = dict(
        conn.execute(select(deliveries.c.id, deliveries.c.variant).where(deliveries.c.issue_id == issue_id)).all()
    )
    variants = {name: Group(name or "(all topics)", count) for name, count in recipients.items()}
    for (delivery_id, _), human in pairs.items():
        name = variant_of.get(delivery_id)
        group = variants.setdefault(name or "", Group(name or "(all topics)"))
        if human:
            group.human_clicks += 1
        else:
            group.machine_clicks += 1
    folded = conn.execute(
        select(click_totals.c.variant, func.sum(click_totals.c.human), func.sum(click_totals.c.machine))
        .where(click_totals.c.issue_id == issue_id)
        .group_by(click_totals.c.variant)
    ).all()
    for name, human, machine in folded:
        group = variants.setdefault(name or "", Group(name or "(all topics)"))
        group.human_clicks += int(human or 0)
        group.machine_clicks += int(machine or 0)
    return list(topics.values()), sorted(variants.values(), key=lambda g: (-g.recipients, g.name))


def clickers(conn: Connection, issue_id: int, pairs: dict[tuple[int, int], bool]) -> tuple[int, int]:
    """(recipients with a human click, recipients whose every click was a machine's), folded ones included."""
    per_delivery: dict[int, bool] = defaultdict(bool)
    for (delivery_id, _), human in pairs.items():
        per_delivery[delivery_id] |= human
    human = sum(1 for h in per_delivery.values() if h)
    machine = len(per_delivery) - human
    folded = conn.execute(select(issue_click_totals).where(issue_click_totals.c.issue_id == issue_id)).first()
    if folded is not None:
        human, machine = human + folded.human_clickers, machine + folded.machine_clickers
    return human, machine


def report(conn: Connection, period: str, *, extra_networks=()) -> Report:
    """The issue's report (see the module docstring for what each figure counts)."""
    issue = _issue(conn, period)
    issue_id = issue["id"]
    sent = conn.execute(
        select(func.count()).where(deliveries.c.issue_id == issue_id, deliveries.c.state == "sent")
    ).scalar_one()
    counted = sg_events.issue_counts(conn, issue_id)
    pairs = unique_clicks(conn, issue_id)
    figures = pick_figures(conn, issue_id, pairs)
    reasons = unsubscribe_reasons(conn, issue)
    human_opens, machine_opens = opens(conn, issue_id, extra_networks)
    human_clickers, machine_clickers = clickers(conn, issue_id, pairs)
    topics, variants = _groups(conn, issue_id, pairs, figures)
    top = sorted((p for p in figures if p.human_clicks), key=lambda p: (-p.human_clicks, p.topic, p.rank))
    return Report(
        period=period, status=issue["status"], sent=sent, delivered=counted["delivered"], bounced=counted["bounced"],
        complaints=counted["complained"], unsubscribes=sum(reasons.values()), unsubscribe_reasons=dict(reasons),
        human_opens=human_opens, machine_opens=machine_opens, human_clickers=human_clickers,
        machine_clickers=machine_clickers, picks=figures, topics=topics, variants=variants, top=top[:TOP_PICKS],
        trend=trend(conn, period, extra_networks=extra_networks),
    )  # fmt: skip


def trend(conn: Connection, period: str, *, extra_networks=()) -> list[dict]:
    """The last TREND_ISSUES issues with a send, up to `period`: recipients, human openers and clickers."""
    rows = conn.execute(
        select(issues.c.id, issues.c.period)
        .where(issues.c.status.in_(REPORTED), issues.c.period <= period)
        .order_by(issues.c.period.desc())
        .limit(TREND_ISSUES)
    ).all()
    out = []
    for issue_id, name in reversed(rows):
        sent = conn.execute(
            select(func.count()).where(deliveries.c.issue_id == issue_id, deliveries.c.state == "sent")
        ).scalar_one()
        human_clickers, _ = clickers(conn, issue_id, unique_clicks(conn, issue_id))
        human_opens, _ = opens(conn, issue_id, extra_networks)
        out.append({"period": name, "sent": sent, "human_opens": human_opens, "human_clickers": human_clickers})
    return out


def reader_counts(conn: Connection, key: Callable[[dict], Hashable | None]) -> dict[Hashable, dict[str, int]]:
    """What readers did with the picks of sent issues, grouped by `key` (of a pick: pick_id, issue_id,
    feed_id, topic, parts; None leaves it out): delivered, unique human clicks, more, less.

    Each value fits curate.readers.ReaderCounts(**value): this is the readers' interest's input,
    per source (`source_counts`) or per kind (`kind_counts`). A pick counts as delivered to every
    recipient whose variant carries its topic (an "only my topics" email leaves the others out).
    """
    sent: dict[int, list[tuple[str, int]]] = defaultdict(list)  # issue -> its variants and their recipients
    for issue_id, variant, count in conn.execute(
        select(deliveries.c.issue_id, deliveries.c.variant, func.count())
        .where(deliveries.c.state == "sent")
        .group_by(deliveries.c.issue_id, deliveries.c.variant)
    ):
        sent[issue_id].append((variant or "", count))
    out: dict[Hashable, dict[str, int]] = defaultdict(lambda: {"delivered": 0, "clicks": 0, "more": 0, "less": 0})
    pick_rows = conn.execute(
        select(picks.c.id.label("pick_id"), picks.c.issue_id, picks.c.topic, picks.c.parts, items.c.feed_id)
        .join(items, items.c.id == picks.c.item_id)
        .where(picks.c.decision == "approved", picks.c.issue_id.in_(list(sent)))
    ).mappings()  # fmt: skip
    key_of = {}
    for row in pick_rows:
        found = key(dict(row))
        if found is not None:
            key_of[row["pick_id"]] = found
            out[found]["delivered"] += sum(n for variant, n in sent[row["issue_id"]] if _carries(variant, row["topic"]))
    human = conn.execute(
        select(clicks.c.pick_id, func.count(func.distinct(clicks.c.delivery_id)))
        .where(clicks.c.human).group_by(clicks.c.pick_id)
    ).all()  # fmt: skip
    folded = conn.execute(select(click_totals.c.pick_id, click_totals.c.human)).all()
    for pick_id, count in list(human) + list(folded):
        if pick_id in key_of:
            out[key_of[pick_id]]["clicks"] += count
    votes = conn.execute(
        select(feedback.c.pick_id, feedback.c.vote, func.count()).group_by(feedback.c.pick_id, feedback.c.vote)
    ).all()
    for pick_id, vote, count in votes:
        if pick_id in key_of:
            out[key_of[pick_id]]["more" if vote > 0 else "less"] += count
    return dict(out)


def _carries(variant: str, topic: str) -> bool:
    """Whether a variant's email has the topic's picks: every topic, unless it is "only my topics"."""
    return not variant.startswith(ONLY_PREFIX) or topic in variant.removeprefix(ONLY_PREFIX).split(",")


def source_counts(conn: Connection) -> dict[int, dict[str, int]]:
    """reader_counts per source (feed id)."""
    return reader_counts(conn, lambda pick: pick["feed_id"])  # type: ignore[return-value]


def kind_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """reader_counts per page kind, as the draft recorded it in the pick's parts (picks added by hand have none)."""
    return reader_counts(conn, lambda pick: (pick["parts"] or {}).get("page_kind"))  # type: ignore[return-value]
