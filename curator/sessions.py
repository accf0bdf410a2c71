"""Sign-in sessions kept on the server: the cookie names one, and revoking it here ends it everywhere.

A session is live while it is not revoked, is younger than `session_hours`, and its user
exists and is not disabled. Logout revokes one session; a password change, a role change,
disabling or removing the user revokes all of theirs.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import Connection, delete, select, update

from curator.store.schema import now, sessions, users

TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is a hint for people, not worth a write per request


def start(conn: Connection, user_id: int) -> str:
    """A new session for the user; returns its id (256 random bits)."""
    session_id = secrets.token_urlsafe(32)
    stamp = now()
    conn.execute(sessions.insert().values(id=session_id, user_id=user_id, created_at=stamp, last_seen_at=stamp))
    return session_id


def user_of(conn: Connection, session_id: str, max_age: timedelta) -> dict | None:
    """The user of a live session, or None; touches last_seen_at now and then."""
    stamp = now()
    row = conn.execute(
        select(users, sessions.c.last_seen_at.label("session_seen_at"))
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(
            sessions.c.id == session_id, sessions.c.revoked_at.is_(None),
            sessions.c.created_at > stamp - max_age, users.c.disabled.is_(False),
        )
    ).mappings().first()
    if row is None:
        return None
    if stamp - row["session_seen_at"] > TOUCH_EVERY:
        conn.execute(update(sessions).where(sessions.c.id == session_id).values(last_seen_at=stamp))
    user = dict(row)
    user.pop("session_seen_at")
    return user


def revoke(conn: Connection, session_id: str) -> None:
    conn.execute(update(sessions).where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
                 .values(revoked_at=now()))


def revoke_user(conn: Connection, user_id: int) -> int:
    """End every session of a user; returns how many were live."""
    result = conn.execute(update(sessions).where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
                          .values(revoked_at=now()))
    return result.rowcount


def prune(conn: Connection, max_age: timedelta) -> None:
    """Forget sessions that ended long ago (kept a while, so ops can see recent sign-ins)."""
    conn.execute(delete(sessions).where(sessions.c.created_at < now() - max_age - timedelta(days=30)))
