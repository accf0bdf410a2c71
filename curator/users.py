"""People who sign in to the desk and the ops console: argon2 hashes, roles, sign-in limits."""

from __future__ import annotations

from functools import cache
from threading import Semaphore

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from curator import sessions, signin_limits
from curator.config import Settings
from curator.errors import AuthError, CuratorError, InvalidAddress, NotFound, TooManyAttempts
from curator.store.schema import ROLES, audit_log, now, users
from curator.store.schema import sessions as sessions_table

MIN_PASSWORD = 10
_hasher = PasswordHasher()


def normalize_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidAddress(f"{email!r} is not an email address: {exc}") from None


def add_user(conn: Connection, email: str, role: str, password: str, actor: str | None = None) -> dict:
    """Create a user; the password is stored only as an argon2 hash."""
    email = normalize_email(email)
    if role not in ROLES:
        raise CuratorError(f"{role!r} is not a role: use one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise CuratorError(f"the password for {email} is too short: use at least {MIN_PASSWORD} characters")
    try:
        conn.execute(insert(users).values(email=email, role=role, password_hash=hash_password(password)))
    except IntegrityError:
        raise CuratorError(f"{email} already has an account; choose another address") from None
    audit(conn, actor, "user.add", email, role)
    return get_user(conn, email)


def hash_password(password: str) -> str:
    """An argon2id hash with the library's recommended cost."""
    return _hasher.hash(password)


def get_user(conn: Connection, email: str) -> dict:
    row = conn.execute(select(users).where(users.c.email == email.strip().lower())).mappings().first()
    if row is None:
        raise NotFound(f"there is no user {email}: `curator users add {email} --role editor` creates one")
    return dict(row)


def user_by_id(conn: Connection, user_id: int) -> dict | None:
    row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
    return dict(row) if row is not None else None


def list_users(conn: Connection) -> list[dict]:
    rows = conn.execute(select(users.c.id, users.c.email, users.c.role, users.c.created_at, users.c.last_login_at,
                               users.c.disabled)
                        .order_by(users.c.email)).mappings()
    return [dict(row) for row in rows]


def count_users(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(users)).scalar_one()


def authenticate(
    engine: Engine, settings: Settings, email: str, password: str, ip: str, gate: Semaphore | None = None
) -> dict:
    """The user whose password this is, or AuthError; TooManyAttempts when a limit holds.

    The limits (curator.signin_limits) are checked before hashing, and a correct password is
    refused too while one holds, so guessing cannot go on at a slower pace. `gate` bounds the
    hashes running at once: when it is full the attempt is refused (TooManyAttempts), not queued.
    An unknown address is hashed against a dummy, so it takes as long as a wrong password.
    """
    email = email.strip().lower()[:320]
    with engine.begin() as conn:
        signin_limits.check(conn, settings, email, ip)
        row = conn.execute(select(users).where(users.c.email == email)).mappings().first()
    if gate is not None and not gate.acquire(blocking=False):
        raise TooManyAttempts("the server is busy checking other sign-ins: try again in a few seconds", retry_after=5)
    try:  # outside any transaction: the hash is slow on purpose
        verified = _verify(row["password_hash"] if row else _dummy_hash(), password[:1000]) and row is not None
    finally:
        if gate is not None:
            gate.release()
    ok = verified and not row["disabled"]
    with engine.begin() as conn:
        signin_limits.record(conn, email, ip, ok)
        if ok:
            values: dict = {"last_login_at": now()}
            if _hasher.check_needs_rehash(row["password_hash"]):
                values["password_hash"] = hash_password(password)
            conn.execute(update(users).where(users.c.id == row["id"]).values(**values))
    if not verified:
        raise AuthError("the email or password is wrong; check both and try again")
    if not ok:
        raise AuthError(f"the account {email} is disabled: ask an admin to enable it")
    return dict(row)


# --- managing accounts: every change that matters ends the user's sessions ------------------


def audit(conn: Connection, actor: str | None, action: str, target: str, detail: str = "") -> None:
    if actor:
        conn.execute(audit_log.insert().values(actor=actor, action=action, target=target, detail=detail, at=now()))


def set_role(conn: Connection, email: str, role: str, actor: str | None = None) -> dict:
    """Change a user's role; their sessions end, so the new role applies at once."""
    user = get_user(conn, email)
    if role not in ROLES:
        raise CuratorError(f"{role!r} is not a role: use one of {', '.join(ROLES)}")
    if user["role"] == "admin" and role != "admin":
        _keep_an_admin(conn, user)
    conn.execute(update(users).where(users.c.id == user["id"]).values(role=role))
    sessions.revoke_user(conn, user["id"])
    audit(conn, actor, "user.role", user["email"], f"{user['role']} -> {role}")
    return get_user(conn, email)


def set_disabled(conn: Connection, email: str, disabled: bool, actor: str | None = None) -> dict:
    """Disable (or enable) a user; disabling ends their sessions and refuses their sign-ins."""
    user = get_user(conn, email)
    if disabled and user["role"] == "admin":
        _keep_an_admin(conn, user)
    conn.execute(update(users).where(users.c.id == user["id"]).values(disabled=disabled))
    if disabled:
        sessions.revoke_user(conn, user["id"])
    audit(conn, actor, "user.disable" if disabled else "user.enable", user["email"])
    return get_user(conn, email)


def set_password(conn: Connection, email: str, password: str, actor: str | None = None) -> dict:
    """Set a new password; every session of the user ends, and the address's failed sign-ins are forgotten."""
    user = get_user(conn, email)
    if len(password) < MIN_PASSWORD:
        raise CuratorError(f"the password for {user['email']} is too short: use at least {MIN_PASSWORD} characters")
    conn.execute(update(users).where(users.c.id == user["id"]).values(password_hash=hash_password(password)))
    sessions.revoke_user(conn, user["id"])
    signin_limits.clear_address(conn, user["email"])
    audit(conn, actor, "user.password", user["email"])
    return get_user(conn, email)


def remove_user(conn: Connection, email: str, actor: str | None = None) -> dict:
    """Delete an account (its sessions go with it); the audit log keeps its address."""
    user = get_user(conn, email)
    if user["role"] == "admin":
        _keep_an_admin(conn, user)
    sessions.revoke_user(conn, user["id"])
    conn.execute(delete(sessions_table).where(sessions_table.c.user_id == user["id"]))
    conn.execute(delete(users).where(users.c.id == user["id"]))
    audit(conn, actor, "user.remove", user["email"], f"was {user['role']}")
    return user


def _keep_an_admin(conn: Connection, user: dict) -> None:
    """Refuse to demote, disable or remove the last enabled admin: nobody could manage users after."""
    others = conn.execute(
        select(func.count()).where(users.c.role == "admin", users.c.disabled.is_(False), users.c.id != user["id"])
    ).scalar_one()
    if others == 0 and users_exist_besides(conn, user):
        raise CuratorError(
            f"{user['email']} is the last admin: make another user admin first "
            "(`curator users role OTHER@ADDRESS admin`)"
        )


def users_exist_besides(conn: Connection, user: dict) -> bool:
    return conn.execute(select(func.count()).where(users.c.id != user["id"])).scalar_one() > 0


@cache
def _dummy_hash() -> str:
    """Verified when the address is unknown, so a missing account takes as long as a wrong password."""
    return _hasher.hash("curator: no such user")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
