"""“Forgot your password?”: an emailed, signed link that works once and for an hour.

The token names the user and a fingerprint of their current password hash, signed with
the secret key and dated. Setting a new password changes the hash, so the link (and any
other link sent before) stops working: single use without storing anything. Asking for a
link answers the same whether the address has an account or not; at most a few links per
address are mailed in a window, so the form cannot flood an inbox.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Callable
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Connection, Engine, func, insert, select

from curator import users
from curator.config import Settings
from curator.errors import BadToken, CuratorError
from curator.store.schema import login_attempts, now
from curator.store.schema import users as users_table

MAX_AGE = timedelta(hours=1)
LINKS_PER_WINDOW = 3  # per address, over settings.login_window_minutes
Mailer = Callable[..., object]  # curator.deliver.send_transactional(settings, to=, subject=, html=, text=)


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    if not settings.secret_key:
        raise CuratorError("password reset links need CURATOR_SECRET_KEY: set it in the environment")
    return URLSafeTimedSerializer(settings.secret_key, salt="curator.password-reset")


def _stamp(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


def make_link(settings: Settings, user: dict) -> str:
    token = _serializer(settings).dumps({"u": user["id"], "p": _stamp(user["password_hash"])})
    return f"{settings.base_url.rstrip('/')}/login/reset/{token}"


def user_for_token(conn: Connection, settings: Settings, token: str) -> dict:
    """The user a reset link is for; BadToken when it is forged, expired, used, or the user is gone."""
    try:
        data = _serializer(settings).loads(token, max_age=int(MAX_AGE.total_seconds()))
    except BadSignature:
        raise BadToken("this password link is broken or more than an hour old: ask for a new one") from None
    user = users.user_by_id(conn, data.get("u")) if isinstance(data, dict) and isinstance(data.get("u"), int) else None
    if user is None or user["disabled"] or _stamp(user["password_hash"]) != data.get("p"):
        raise BadToken("this password link was already used or is no longer valid: ask for a new one")
    return user


def due_link(engine: Engine, settings: Settings, email: str) -> dict | None:
    """The user to mail a reset link to: `email` has an enabled account and few links went to it lately."""
    try:
        address = users.normalize_email(email)
    except CuratorError:
        return None
    key = f"reset|{address}"
    with engine.begin() as conn:
        user = conn.execute(select(users_table).where(users_table.c.email == address)).mappings().first()
        since = now() - timedelta(minutes=settings.login_window_minutes)
        recent = conn.execute(
            select(func.count()).where(login_attempts.c.key == key, login_attempts.c.at >= since)
        ).scalar_one()
        if user is None or user["disabled"] or recent >= LINKS_PER_WINDOW:
            return None
        conn.execute(insert(login_attempts).values(key=key, ok=True, at=now()))
    return dict(user)


def send_link(settings: Settings, user: dict, mailer: Mailer) -> None:
    link = make_link(settings, user)
    text = (
        f"Someone (we hope you) asked to set a new password for {user['email']} on Curator.\n\n"
        f"Set a new password: {link}\n\n"
        "The link works once, for an hour. If you did not ask, ignore this email: your password stays as it is.\n"
    )
    body = "".join(f"<p>{html.escape(line)}</p>" for line in text.split("\n\n") if line.strip())
    body = body.replace(html.escape(link), f'<a href="{html.escape(link)}">{html.escape(link)}</a>')
    mailer(settings, to=user["email"], subject="Set a new Curator password", html=body, text=text)


def reset(conn: Connection, settings: Settings, token: str, password: str) -> dict:
    """Set the password a valid link allows; every session of the user ends and the link dies."""
    user = user_for_token(conn, settings, token)
    updated = users.set_password(conn, user["email"], password, actor=user["email"])
    return updated
