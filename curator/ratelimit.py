"""Fixed-window counters kept in the database, so a limit holds across processes and machines.

    hit(conn, "subscribe-ip", "203.0.113.9", limit=10, window=3600)  -> True while within the limit

Each (kind, value) has one row: the start of its current window and the hits in it. One
upsert counts a hit and returns the new count, atomically on PostgreSQL and SQLite alike.
Values are stored as digests: a counter must not become a second copy of an address.
A fixed window lets up to twice the limit through across a window's edge; for abuse
limits that is enough, and it costs one row per key.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time

from sqlalchemy import Connection, case, delete
from sqlalchemy.dialects import postgresql, sqlite

from curator.store.schema import rate_counters


def client_key(host: str) -> str:
    """A client for a per-IP limit: its IPv4 address, or its IPv6 /64 (one host usually has the whole /64)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def counter_key(kind: str, value: str) -> str:
    """The row's key: the kind in clear (for ops reading the table), the value as a digest."""
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:40]}"


def hit(conn: Connection, kind: str, value: str, *, limit: int, window: float, at: float | None = None) -> bool:
    """Count one hit for (kind, value); True while the window's hits are within `limit`."""
    moment = time.time() if at is None else at
    start = int(moment // window * window)
    expires = start + math.ceil(window)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(rate_counters).values(
        key=counter_key(kind, value), window_start=start, hits=1, expires_at=expires
    )
    statement = statement.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "hits": case((rate_counters.c.window_start == start, rate_counters.c.hits + 1), else_=1),
            "window_start": start,
            "expires_at": expires,
        },
    ).returning(rate_counters.c.hits)
    hits = conn.execute(statement).scalar_one()
    conn.execute(delete(rate_counters).where(rate_counters.c.expires_at < int(moment)))  # the table stays small
    return hits <= limit


def undo(conn: Connection, kind: str, value: str) -> None:
    """Forget (kind, value)'s hits: what they limited did not happen after all (a mail that failed)."""
    conn.execute(delete(rate_counters).where(rate_counters.c.key == counter_key(kind, value)))
