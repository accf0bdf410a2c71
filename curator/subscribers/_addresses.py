"""What a subscriber gives us: an address, a name and topics, checked and normalized."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from email_validator import EmailNotValidError, validate_email

from curator.errors import InvalidAddress, NotFound

NAME_MAX = 200
_SPACES = re.compile(r"\s+")


def normalize_email(address: str) -> str:
    """The address as stored: email-validator's normalized form, lowercased, or InvalidAddress.

    Lowercasing the local part too makes uniqueness case-insensitive; no provider we send to
    treats Bob@ and bob@ as two mailboxes. No DNS lookups: the check is of the syntax only.
    Internationalized local parts (SMTPUTF8) are refused: SendGrid cannot send to them.
    """
    text = (address or "").strip()
    if not text:
        raise InvalidAddress("an email address is required: none was given")
    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(f"{text!r} is not a valid address: {exc}") from None
    return valid.normalized.lower()


def ascii_address(email: str) -> str:
    """The address with its domain in ASCII (punycode), as SMTP and SendGrid want it."""
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.encode('idna').decode('ascii')}" if not domain.isascii() else email


def clean_name(name: str | None) -> str:
    """A display name: control characters dropped, whitespace collapsed, at most 200 characters."""
    text = "".join(ch for ch in (name or "") if unicodedata.category(ch)[0] != "C" or ch in " \t\n")
    return _SPACES.sub(" ", text).strip()[:NAME_MAX]


def clean_topics(topics: Iterable[str], known: Sequence[str] | None) -> list[str]:
    """Topic names without duplicates, in feeds.yaml order when `known` is given.

    feeds.yaml order (not the order asked) keeps the number of topic variants, and so of
    SendGrid requests, small. An unknown name is refused with the list of known ones.
    """
    wanted = list(dict.fromkeys(t.strip() for t in topics if t and t.strip()))
    if known is None:
        return wanted
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise NotFound(
            f"unknown topic{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}: "
            f"the topics in feeds.yaml are {', '.join(known)}"
        )
    return [t for t in known if t in wanted]


def split_topics(text: str | None, sep: str = ",") -> list[str]:
    return [part.strip() for part in (text or "").split(sep) if part.strip()]
