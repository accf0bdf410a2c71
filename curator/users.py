"""People who sign in to the desk and the ops console: argon2 hashes, roles, sign-in limits."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from curator.config import Settings
from curator.errors import AuthError, CuratorError, InvalidAddress, NotFound, TooManyAttempts
from curator.store.schema import ROLES, login_attempts, now, users

MIN_PASSWORD = 10
_hasher = PasswordHasher()


def normalize_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidAddress(f"{email!r} is not an email address: {exc}") from None


def add_user(conn: Connection, email: str, role: str, password: str) -> dict:
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
    rows = conn.execute(select(users.c.id, users.c.email, users.c.role, users.c.created_at, users.c.last_login_at)
                        .order_by(users.c.email)).mappings()
    return [dict(row) for row in rows]


def count_users(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(users)).scalar_one()


def authenticate(engine: Engine, settings: Settings, email: str, password: str, ip: str) -> dict:
    """The user whose password this is, or AuthError; TooManyAttempts after repeated failures.

    Failures are counted per address and IP over a sliding window, and a correct password is
    refused too while the limit holds, so guessing cannot go on at a slower pace. The attempt
    is recorded in its own transaction, so a refusal cannot roll it back.
    """
    email = email.strip().lower()
    key = f"{email}|{ip}"
    window_start = now() - timedelta(minutes=settings.login_window_minutes)
    with engine.begin() as conn:
        conn.execute(delete(login_attempts).where(login_attempts.c.at < window_start))
        failures = conn.execute(
            select(func.count()).where(login_attempts.c.key == key, login_attempts.c.ok.is_(False))
        ).scalar_one()
        row = conn.execute(select(users).where(users.c.email == email)).mappings().first()
    if failures >= settings.login_max_failures:
        raise TooManyAttempts(
            f"too many failed sign-ins for {email} from this address: wait "
            f"{settings.login_window_minutes:g} minutes and try again, or ask an admin to reset your password"
        )
    # The hash is checked outside any transaction: it is slow on purpose.
    ok = _verify(row["password_hash"] if row else _dummy_hash(), password) and row is not None
    with engine.begin() as conn:
        conn.execute(insert(login_attempts).values(key=key, ok=ok, at=now()))
        if ok:
            values: dict = {"last_login_at": now()}
            if _hasher.check_needs_rehash(row["password_hash"]):
                values["password_hash"] = hash_password(password)
            conn.execute(update(users).where(users.c.id == row["id"]).values(**values))
            # A success wipes the failures, so one typo an hour never locks a person out.
            conn.execute(delete(login_attempts).where(login_attempts.c.key == key, login_attempts.c.ok.is_(False)))
    if not ok:
        raise AuthError("the email or password is wrong; check both and try again")
    return dict(row)


@cache
def _dummy_hash() -> str:
    """Verified when the address is unknown, so a missing account takes as long as a wrong password."""
    return _hasher.hash("curator: no such user")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
