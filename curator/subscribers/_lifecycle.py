"""A subscriber's life: add, subscribe, confirm, preferences, unsubscribe, suppress.

Every status change goes through `_move`, which refuses moves not in TRANSITIONS and is
guarded by the status it read, like editorial.transition for issues:

    pending ──confirm──► active ──unsubscribe──► unsubscribed ──subscribe again──► pending
                           ▲                        │
                           └──undo (their own link)─┘
       └────────── any of these ──► bounced ──► complained (final)
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Select, Text, and_, case, cast, delete, exists, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from curator import tokens
from curator.config import Settings
from curator.content import ONLY_PREFIX
from curator.errors import BadToken, IllegalTransition, InvalidAddress, NotFound
from curator.store.schema import now, subscribers, suppressions
from curator.subscribers._addresses import clean_name, clean_topics, normalize_email
from curator.subscribers._sql import joined_topics

TRANSITIONS: dict[str, set[str]] = {
    "pending": {"active", "unsubscribed", "bounced", "complained"},
    "active": {"unsubscribed", "bounced", "complained"},
    "unsubscribed": {"pending", "active", "bounced", "complained"},  # active: the undo right after, see _account
    "bounced": {"complained"},
    "complained": set(),
}
# A stronger reason replaces a weaker one; bounced and complained addresses are never mailed again.
SUPPRESSION_RANK = {"unsubscribed": 1, "bounced": 2, "complained": 3}
PERMANENT_REASONS = ("bounced", "complained")


class Mailer(Protocol):
    """Sends one transactional email; `curator.deliver.send_transactional` is one."""

    def __call__(
        self, settings: Settings, *, to: str, subject: str, html: str, text: str,
        headers: dict[str, str] | None = None,
    ) -> Any: ...


def find(conn: Connection, email: str) -> dict | None:
    """The subscriber with this (already normalized) address, if any."""
    row = conn.execute(select(subscribers).where(subscribers.c.email == email)).mappings().first()
    return dict(row) if row else None


def get(conn: Connection, subscriber_id: int) -> dict:
    row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).mappings().first()
    if row is None:
        raise NotFound(f"there is no subscriber {subscriber_id}: `curator subscribers list` shows them")
    return dict(row)


def lookup(conn: Connection, address: str) -> dict:
    """The subscriber with this address, or NotFound naming it."""
    email = normalize_email(address)
    found = find(conn, email)
    if found is None:
        raise NotFound(f"{email} is not a subscriber: `curator subscribers list` shows who is")
    return found


def _move(conn: Connection, sub: dict, to: str, **values: Any) -> dict:
    """Change a subscriber's status, or raise IllegalTransition; the one place status changes."""
    current = sub["status"]
    if to not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing: it is final"
        raise IllegalTransition(
            f"subscriber {sub['id']} is {current}; it cannot become {to} (from {current}: {allowed})"
        )
    if to == "active":
        values.setdefault("confirmed_at", now())
    elif to == "unsubscribed":
        values.setdefault("unsubscribed_at", now())
    result = conn.execute(
        update(subscribers)
        .where(subscribers.c.id == sub["id"], subscribers.c.status == current)
        .values(status=to, **values)
    )
    if result.rowcount != 1:
        raise IllegalTransition(f"subscriber {sub['id']} changed while moving it to {to}; try again")
    return get(conn, sub["id"])


def suppression(conn: Connection, email: str) -> dict | None:
    row = conn.execute(select(suppressions).where(suppressions.c.email == email)).mappings().first()
    return dict(row) if row else None


def is_suppressed(conn: Connection, email: str) -> bool:
    return suppression(conn, email.strip().lower()) is not None


def suppress(conn: Connection, email: str, reason: str, detail: str = "") -> bool:
    """Never mail `email` again for `reason` (bounced, complained, unsubscribed); True if it changed.

    The subscriber with that address, if any, follows: its status becomes the reason.
    A weaker reason never replaces a stronger one (complained > bounced > unsubscribed).
    """
    if reason not in SUPPRESSION_RANK:
        raise ValueError(f"unknown suppression reason {reason!r}")
    email = email.strip().lower()
    changed = _record_suppression(conn, email, reason, detail)
    sub = find(conn, email)
    if sub is not None and reason in TRANSITIONS[sub["status"]]:
        _move(conn, sub, reason)
        changed = True
    return changed


def _record_suppression(conn: Connection, email: str, reason: str, detail: str) -> bool:
    existing = suppression(conn, email)
    if existing is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(suppressions),
                    {"email": email, "reason": reason, "detail": detail, "created_at": now()},
                )
            return True
        except IntegrityError:  # another request suppressed it meanwhile
            existing = suppression(conn, email)
    if existing is None or SUPPRESSION_RANK[reason] <= SUPPRESSION_RANK[existing["reason"]]:
        return False
    conn.execute(
        update(suppressions)
        .where(suppressions.c.email == email)
        .values(reason=reason, detail=detail, created_at=now())
    )
    return True


def _insert(conn: Connection, email: str, name: str, topics: list[str], status: str, source: str) -> dict:
    values = {"email": email, "name": name, "topics": topics, "status": status, "source": source,
              "created_at": now(), "confirmed_at": now() if status == "active" else None}
    try:
        with conn.begin_nested():
            new_id = conn.execute(insert(subscribers).returning(subscribers.c.id), values).scalar_one()
    except IntegrityError:
        raise InvalidAddress(f"{email} is already a subscriber (added a moment ago)") from None
    return get(conn, new_id)


def add(
    conn: Connection, address: str, *, name: str = "", topics: Sequence[str] = (),
    known_topics: Sequence[str] | None = None, source: str = "cli",
) -> dict:
    """Add an ACTIVE subscriber: an operator adds someone who agreed to receive the newsletter."""
    email = normalize_email(address)
    topic_list = clean_topics(topics, known_topics)
    existing = find(conn, email)
    if existing is not None:
        hint = ("; to come back, they subscribe again on the public form" if existing["status"] == "unsubscribed"
                else "; `curator subscribers list` shows it")
        raise InvalidAddress(
            f"{email} is already a subscriber ({existing['status']}, since "
            f"{existing['created_at']:%Y-%m-%d}): one subscriber per address{hint}"
        )
    blocked = suppression(conn, email)
    if blocked is not None and blocked["reason"] in PERMANENT_REASONS:
        raise InvalidAddress(
            f"{email} is suppressed: it {blocked['reason']} on {blocked['created_at']:%Y-%m-%d}, "
            "and Curator never mails such an address again"
        )
    if blocked is not None:  # they unsubscribed once; the operator says they agreed again
        _unsuppress_unsubscribed(conn, email)
    return _insert(conn, email, clean_name(name), topic_list, "active", source)


def subscribe(
    conn: Connection, address: str, *, name: str = "", topics: Sequence[str] = (),
    known_topics: Sequence[str] | None = None, only_my_topics: bool = False,
) -> tuple[dict | None, bool]:
    """The public form: a PENDING subscriber (double opt-in); returns it and whether to mail a confirmation.

    The page answers the same whatever the address's state, so the form cannot tell a
    stranger who subscribes. Active ones are left alone; bounced and complained ones
    are never mailed.
    """
    email = normalize_email(address)
    topic_list, clean = clean_topics(topics, known_topics), clean_name(name)
    blocked = suppression(conn, email)
    if blocked is not None and blocked["reason"] in PERMANENT_REASONS:
        return find(conn, email), False
    sub = find(conn, email)
    only = bool(only_my_topics and topic_list)
    if sub is None:
        sub = _insert(conn, email, clean, topic_list, "pending", "web")
    elif sub["status"] == "pending":
        conn.execute(update(subscribers).where(subscribers.c.id == sub["id"]).values(name=clean, topics=topic_list))
    elif sub["status"] == "unsubscribed":
        sub = _move(conn, sub, "pending", name=clean, topics=topic_list, source="web")
    else:
        return sub, False
    conn.execute(update(subscribers).where(subscribers.c.id == sub["id"]).values(only_my_topics=only))
    return get(conn, sub["id"]), True


def send_confirmation(settings: Settings, subscriber: dict, mailer: Mailer) -> None:
    """Mail the double opt-in link to a pending subscriber."""
    from curator import render

    message = render.render_confirmation(settings, subscriber)
    mailer(settings, to=subscriber["email"], subject=message.subject, html=message.html, text=message.text)


def from_token(conn: Connection, settings: Settings, purpose: str, token: str) -> dict:
    """The subscriber a signed link names, or BadToken (forged, altered, expired, or stale)."""
    claim = tokens.read_token(settings, purpose, token)
    row = conn.execute(select(subscribers).where(subscribers.c.id == claim.subscriber_id)).mappings().first()
    if row is None or not claim.matches(row["email"]):
        raise BadToken(f"this {purpose} link names a subscriber who is no longer here: subscribe again")
    return dict(row)


def confirmable(conn: Connection, settings: Settings, token: str) -> dict:
    """The subscriber a confirm link would activate (or already did), or BadToken; changes nothing.

    The link must be the latest attempt's: after a new subscription (say, once unsubscribed),
    the links mailed for earlier ones no longer confirm anything.
    """
    sub = from_token(conn, settings, "confirm", token)
    attempt = tokens.read_token(settings, "confirm", token).attempt
    if sub["status"] == "active":
        return sub
    if not _same_attempt(attempt, sub.get("confirm_nonce")):
        raise BadToken("this confirm link was replaced by a newer one: use the link in the latest email")
    if sub["status"] != "pending":
        raise BadToken(f"this confirm link is no longer valid ({sub['email']} is {sub['status']}): subscribe again")
    blocked = suppression(conn, sub["email"])
    if blocked is not None and blocked["reason"] in PERMANENT_REASONS:
        raise BadToken("this confirm link is no longer valid: the address cannot receive mail from us")
    return sub


def _same_attempt(claimed: str | None, current: str | None) -> bool:
    if claimed is None or current is None:
        return claimed is None and current is None  # links made before attempts were recorded
    return hmac.compare_digest(claimed, current)


def new_attempt(conn: Connection, sub: dict) -> dict:
    """A new subscription attempt for a pending subscriber: the next confirm link names it, older ones stop."""
    nonce = secrets.token_urlsafe(16)
    conn.execute(update(subscribers).where(subscribers.c.id == sub["id"]).values(confirm_nonce=nonce))
    return get(conn, sub["id"])


def confirm(conn: Connection, settings: Settings, token: str) -> dict:
    """Confirm a subscription from its link: pending becomes active; twice is fine."""
    sub = confirmable(conn, settings, token)
    if sub["status"] == "active":
        return sub
    _unsuppress_unsubscribed(conn, sub["email"])
    return _move(conn, sub, "active")


def _unsuppress_unsubscribed(conn: Connection, email: str) -> None:
    """They opted in again: an earlier unsubscribe no longer holds (a bounce or complaint still does)."""
    conn.execute(delete(suppressions).where(suppressions.c.email == email, suppressions.c.reason == "unsubscribed"))


def update_preferences(
    conn: Connection, subscriber_id: int, *, topics: Sequence[str], name: str,
    known_topics: Sequence[str] | None = None, only_my_topics: bool | None = None,
) -> dict:
    """Change a subscriber's topics, name and (unless None) whether they get only their topics."""
    topic_list = clean_topics(topics, known_topics)
    values: dict[str, Any] = {"topics": topic_list, "name": clean_name(name)}
    if only_my_topics is not None:
        values["only_my_topics"] = bool(only_my_topics and topic_list)  # none chosen: all topics
    conn.execute(update(subscribers).where(subscribers.c.id == subscriber_id).values(**values))
    return get(conn, subscriber_id)


def unsubscribe(conn: Connection, subscriber_id: int, detail: str = "") -> dict:
    """Stop mailing a subscriber: status unsubscribed and a suppression; doing it again changes nothing."""
    sub = get(conn, subscriber_id)
    suppress(conn, sub["email"], "unsubscribed", detail)
    return get(conn, subscriber_id)


def audience_select() -> Select:
    """Who receives an issue: active subscribers not suppressed, with their variant key.

    Columns subscriber_id, email, name, variant (the topic list joined by ",", prefixed by
    ONLY_PREFIX for those who chose "only my topics"), ordered by id; usable in INSERT INTO
    deliveries ... SELECT. The variant is worked out once per distinct (topic list, choice)
    (a million subscribers share a few dozen), not once per subscriber.
    """
    topic_list = cast(subscribers.c.topics, Text)  # as text: PostgreSQL cannot group json
    lists = select(topic_list.label("topics"), subscribers.c.only_my_topics.label("only")).distinct().subquery(
        "topic_lists"
    )
    joined = joined_topics(lists.c.topics)
    variant = case((and_(lists.c.only, joined != ""), literal(ONLY_PREFIX) + joined), else_=joined)
    variants = (
        select(lists.c.topics, lists.c.only, variant.label("variant"))
        .group_by(lists.c.topics, lists.c.only)  # a grouped subquery stays one: its variants are not recomputed
        .subquery("variants")
    )
    return (
        select(
            subscribers.c.id.label("subscriber_id"),
            subscribers.c.email,
            subscribers.c.name,
            variants.c.variant,
        )
        .join_from(subscribers, variants, and_(topic_list == variants.c.topics,
                                               subscribers.c.only_my_topics == variants.c.only))
        .where(subscribers.c.status == "active", ~exists().where(suppressions.c.email == subscribers.c.email))
        .order_by(subscribers.c.id)
    )


def audience(conn: Connection) -> list[dict]:
    return [dict(row) for row in conn.execute(audience_select()).mappings()]


def list_subscribers(conn: Connection, status: str | None = None) -> list[dict]:
    query = select(subscribers).order_by(subscribers.c.id)
    if status:
        query = query.where(subscribers.c.status == status)
    return [dict(row) for row in conn.execute(query).mappings()]


def search(
    conn: Connection, *, text: str = "", status: str = "", topic: str = "", limit: int = 50, offset: int = 0
) -> tuple[list[dict], int]:
    """Subscribers whose address or name contains `text`, of a status and a topic; a page of them, and how many."""
    conditions = []
    if text.strip():
        pattern = "%" + text.strip().lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
        conditions.append(subscribers.c.email.like(pattern) | func.lower(subscribers.c.name).like(pattern))
    if status:
        conditions.append(subscribers.c.status == status)
    if topic:
        conditions.append(cast(subscribers.c.topics, Text).like(f'%"{topic}"%'))
    total = conn.execute(select(func.count()).select_from(subscribers).where(*conditions)).scalar_one()
    rows = conn.execute(
        select(subscribers).where(*conditions).order_by(subscribers.c.created_at.desc(), subscribers.c.id.desc())
        .limit(limit).offset(offset)
    ).mappings()
    return [dict(row) for row in rows], total


def status_counts(conn: Connection) -> dict[str, int]:
    found = dict(conn.execute(select(subscribers.c.status, func.count()).group_by(subscribers.c.status)).all())
    return {status: found.get(status, 0) for status in TRANSITIONS}
