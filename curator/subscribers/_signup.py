"""The public subscribe form's rules against abuse: who may trigger a confirmation email, and how often.

A stranger can type anyone's address into the form, so every post is one more email to a
third party's inbox. Limits, all kept in the database (curator.ratelimit) so they hold
across web processes: at most `subscribe_ip_limit` posts per client IP a window, and at
most one confirmation email per address every `subscribe_mail_every_minutes`. A refused
post changes nothing and is answered like any other, so the form tells nobody which
addresses subscribe or that a limit was reached.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Connection

from curator import ratelimit
from curator.config import Settings
from curator.errors import InvalidAddress
from curator.subscribers._addresses import normalize_email
from curator.subscribers._lifecycle import new_attempt, subscribe

log = logging.getLogger("curator.subscribers")
# What the form prints in the confirmation email's greeting: enough for a name, too short for an advert.
PUBLIC_NAME_MAX = 60
MAIL_LIMIT = "confirm-mail"


def signup(
    conn: Connection, settings: Settings, address: str, *, name: str, topics: Sequence[str],
    known_topics: Sequence[str], client: str, only_my_topics: bool = False,
) -> dict | None:
    """A post of the public form: the pending subscriber to mail a confirmation link to, or None.

    InvalidAddress or NotFound for a malformed address, a name too long or an unknown topic.
    """
    if len(name.strip()) > PUBLIC_NAME_MAX:
        raise InvalidAddress(f"a name of at most {PUBLIC_NAME_MAX} characters, please: it is only for the greeting")
    email = normalize_email(address)
    window = settings.subscribe_ip_window_minutes * 60
    if not ratelimit.hit(conn, "subscribe-ip", ratelimit.client_key(client), limit=settings.subscribe_ip_limit,
                         window=window):
        log.warning("subscribe post refused: client over %d posts in %g minutes",
                    settings.subscribe_ip_limit, settings.subscribe_ip_window_minutes)
        return None
    every = settings.subscribe_mail_every_minutes * 60
    if not ratelimit.hit(conn, MAIL_LIMIT, email, limit=1, window=every):
        log.info("subscribe post refused: an address was mailed less than %g minutes ago",
                 settings.subscribe_mail_every_minutes)
        return None
    sub, should_send = subscribe(
        conn, email, name=name, topics=topics, known_topics=known_topics, only_my_topics=only_my_topics
    )
    return new_attempt(conn, sub) if should_send and sub is not None else None


def mail_failed(conn: Connection, subscriber: dict) -> None:
    """The confirmation email could not be sent: the address may try again at once, as the page says."""
    ratelimit.undo(conn, MAIL_LIMIT, subscriber["email"])
