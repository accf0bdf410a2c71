"""Rate limits shared by every worker on every machine, kept in the rate_limits table.

Each limit is a GCRA (generic cell rate algorithm): its row holds the theoretical arrival
time `tat` (epoch seconds) of the next unit and the current `rate` (units per second).
A worker reserves its slot in one transaction, then sleeps until the slot: workers take
turns instead of racing. A 429 halves the request rate and pushes `tat` past
X-RateLimit-Reset for everyone; each later reservation wins back a little of the rate.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from curator.config import Settings
from curator.store.schema import rate_limits

REQUESTS = "sendgrid.requests"
RECIPIENTS = "sendgrid.recipients"
RECOVERY = 0.02  # of the configured rate, won back by each reservation after a 429
FLOOR = 0.01  # a 429 never lowers a rate below this fraction of the configured one


def _configured(settings: Settings) -> dict[str, float]:
    return {REQUESTS: settings.send_rate_requests, RECIPIENTS: settings.send_rate_recipients}


def _ensure(conn: Connection, configured: dict[str, float]) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    rows = [{"name": name, "tat": 0.0, "rate": rate} for name, rate in configured.items()]
    conn.execute(dialect.insert(rate_limits).values(rows).on_conflict_do_nothing(index_elements=["name"]))


def _locked(conn: Connection, names: list[str]) -> dict[str, tuple[float, float]]:
    query = select(rate_limits.c.name, rate_limits.c.tat, rate_limits.c.rate).where(rate_limits.c.name.in_(names))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # SQLite's BEGIN IMMEDIATE already serializes writers
    return {name: (tat, rate) for name, tat, rate in conn.execute(query)}


def reserve(conn: Connection, settings: Settings, recipients: int) -> float:
    """Reserve one request for `recipients` people; returns when (epoch seconds) it may be sent.

    Runs in the caller's transaction: the claim reserves its batch's slot as it commits.
    """
    configured = _configured(settings)
    cost = {REQUESTS: 1.0, RECIPIENTS: float(recipients)}
    limits = _locked(conn, list(configured))
    if len(limits) < len(configured):  # the first reservation ever creates the rows
        _ensure(conn, configured)
        limits = _locked(conn, list(configured))
    now = time.time()
    slot = now
    for name, (tat, rate) in sorted(limits.items()):
        rate = min(configured[name], rate + configured[name] * RECOVERY)
        start = max(tat, now)
        slot = max(slot, start)
        conn.execute(
            update(rate_limits).where(rate_limits.c.name == name).values(tat=start + cost[name] / rate, rate=rate)
        )
    return slot


def slow_down(engine: Engine, settings: Settings, reset_at: float) -> None:
    """A 429: halve the shared request rate, and let nobody send before `reset_at`."""
    configured = _configured(settings)
    with engine.begin() as conn:
        _ensure(conn, configured)
        tat, rate = _locked(conn, [REQUESTS])[REQUESTS]
        floor = configured[REQUESTS] * FLOOR
        conn.execute(
            update(rate_limits)
            .where(rate_limits.c.name == REQUESTS)
            .values(tat=max(tat, reset_at), rate=max(floor, min(rate, configured[REQUESTS]) / 2))
        )


def current(engine: Engine) -> dict[str, float]:
    """The current rate of each limit (for `curator status`)."""
    with engine.connect() as conn:
        return {name: rate for name, rate in conn.execute(select(rate_limits.c.name, rate_limits.c.rate))}
