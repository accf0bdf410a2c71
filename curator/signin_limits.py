"""Sign-in limits, checked before any password is hashed: per client IP, per address, and per both.

Every failed sign-in is counted under three keys over a sliding window. While any count is
at its limit, sign-in is refused without hashing, so a flood of made-up addresses costs the
server a database query, not 64 MiB of argon2. A success clears the failures of its address
(from that client and in all), so one typo an hour never locks a person out.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, delete, func, insert, select

from curator.config import Settings
from curator.errors import TooManyAttempts
from curator.store.schema import login_attempts, now


def keys(email: str, ip: str) -> dict[str, str]:
    return {"pair": f"{email}|{ip}", "ip": f"ip|{ip}", "address": f"address|{email}"}


def check(conn: Connection, settings: Settings, email: str, ip: str) -> None:
    """Raise TooManyAttempts when this client, this address or the pair failed too often lately."""
    window = timedelta(minutes=settings.login_window_minutes)
    conn.execute(delete(login_attempts).where(login_attempts.c.at < now() - window))
    named = keys(email, ip)
    counts = dict(conn.execute(
        select(login_attempts.c.key, func.count())
        .where(login_attempts.c.key.in_(named.values()), login_attempts.c.ok.is_(False))
        .group_by(login_attempts.c.key)
    ).all())
    wait = int(window.total_seconds())
    minutes = f"{settings.login_window_minutes:g} minutes"
    if counts.get(named["ip"], 0) >= settings.login_ip_max_failures:
        raise TooManyAttempts(
            f"too many failed sign-ins from your network: wait {minutes} and try again, "
            "or use “Forgot your password?” on the sign-in page", retry_after=wait,
        )
    if counts.get(named["pair"], 0) >= settings.login_max_failures or (
        counts.get(named["address"], 0) >= settings.login_address_max_failures
    ):
        raise TooManyAttempts(
            f"too many failed sign-ins for {email}: wait {minutes} and try again, or use "
            "“Forgot your password?” on the sign-in page to get a link that sets a new password",
            retry_after=wait,
        )


def record(conn: Connection, email: str, ip: str, ok: bool) -> None:
    named = keys(email, ip)
    if ok:
        conn.execute(delete(login_attempts).where(
            login_attempts.c.key.in_([named["pair"], named["address"]]), login_attempts.c.ok.is_(False)
        ))
        return
    stamp = now()
    conn.execute(insert(login_attempts), [{"key": key, "ok": False, "at": stamp} for key in named.values()])


def clear_address(conn: Connection, email: str) -> None:
    """Forget an address's failures (its password was just reset)."""
    conn.execute(delete(login_attempts).where(
        (login_attempts.c.key == f"address|{email}") | login_attempts.c.key.like(f"{_like(email)}|%", escape="\\")
    ))


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
