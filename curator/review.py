"""The end of an issue's review: approve it for sending, then learn from its decisions.

The desk and `curator approve` both end a review here, so the editors' taste model learns from
every reviewed issue whichever way it was approved. Learning runs in a savepoint of the
approval's transaction: if it fails, the approval still stands (the next draft and the
scheduler's taste job retrain from the same decisions), and the failure is logged.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection

from curator import editorial
from curator.curate import taste

log = logging.getLogger(__name__)


def approve_and_learn(conn: Connection, period: str, actor: str, topics: list[tuple[str, str]]) -> list[str]:
    """Approve the issue (its warnings returned: topics without approved picks), then retrain the taste model."""
    warnings = editorial.approve_issue(conn, period, actor, topics)
    try:
        with conn.begin_nested():
            taste.retrain(conn)  # a no-op unless decisions changed since the stored model
    except Exception:  # noqa: BLE001 - learning must never undo an approval; it is retried at the next draft
        log.exception("issue %s is approved, but the taste model could not learn from it yet", period)
    return warnings
