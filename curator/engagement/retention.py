"""Retention of raw clicks: after `click_retention_days`, fold them into totals and delete them.

The unit folded is one recipient's clicks on one issue, and only once the newest of them is
past the cutoff: a reader still clicking keeps their rows, so no click is counted twice.
What survives is counts without a person: unique clicks per pick and variant (click_totals)
and the issue's clickers (issue_click_totals). A reader who clicks an old issue again after
their rows were folded is counted again; a rare case, accepted for not keeping the rows.
Feedback votes are not raw rows: they stay until `curator subscribers forget`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Integer, cast, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from curator.store.schema import click_totals, clicks, deliveries, issue_click_totals

CHUNK = 500  # delivery ids per DELETE (SQLite's bound-parameter limit is far above)


def fold_old_clicks(conn: Connection, retention_days: int, *, now: datetime | None = None) -> int:
    """Fold and delete the raw clicks of recipients whose last click is older than the cutoff; rows deleted."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    old = select(clicks.c.delivery_id).group_by(clicks.c.delivery_id).having(func.max(clicks.c.at) < cutoff)
    rows = conn.execute(
        select(clicks.c.delivery_id, clicks.c.issue_id, clicks.c.pick_id, deliveries.c.variant,
               func.max(cast(clicks.c.human, Integer)))
        .join(deliveries, deliveries.c.id == clicks.c.delivery_id)
        .where(clicks.c.delivery_id.in_(old))
        .group_by(clicks.c.delivery_id, clicks.c.issue_id, clicks.c.pick_id, deliveries.c.variant)
    ).all()  # fmt: skip
    if not rows:
        return 0
    per_pick: dict[tuple[int, str, int], list[int]] = defaultdict(lambda: [0, 0])
    per_recipient: dict[tuple[int, int], bool] = defaultdict(bool)
    for delivery_id, issue_id, pick_id, variant, human in rows:
        per_pick[(pick_id, variant, issue_id)][0 if human else 1] += 1
        per_recipient[(issue_id, delivery_id)] |= bool(human)
    per_issue: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for (issue_id, _), human in per_recipient.items():
        per_issue[issue_id][0 if human else 1] += 1
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for (pick_id, variant, issue_id), (human, machine) in per_pick.items():
        insert = dialect.insert(click_totals).values(
            pick_id=pick_id, variant=variant, issue_id=issue_id, human=human, machine=machine
        )
        conn.execute(insert.on_conflict_do_update(
            index_elements=["pick_id", "variant"],
            set_={"human": click_totals.c.human + insert.excluded.human,
                  "machine": click_totals.c.machine + insert.excluded.machine},
        ))  # fmt: skip
    for issue_id, (human, machine) in per_issue.items():
        insert = dialect.insert(issue_click_totals).values(
            issue_id=issue_id, human_clickers=human, machine_clickers=machine
        )
        conn.execute(insert.on_conflict_do_update(
            index_elements=["issue_id"],
            set_={"human_clickers": issue_click_totals.c.human_clickers + insert.excluded.human_clickers,
                  "machine_clickers": issue_click_totals.c.machine_clickers + insert.excluded.machine_clickers},
        ))  # fmt: skip
    folded = sorted({delivery_id for _, delivery_id in per_recipient})
    deleted = 0
    for start in range(0, len(folded), CHUNK):
        deleted += conn.execute(delete(clicks).where(clicks.c.delivery_id.in_(folded[start : start + CHUNK]))).rowcount
    return deleted
