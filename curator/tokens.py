"""Signed subscriber links: a token names one subscriber and one purpose, and nothing else.

A token is an itsdangerous URL-safe, timestamped signature (HMAC with `secret_key`)
over [subscriber id, digest of the address]. The salt is the purpose, so a token made
for "unsubscribe" never opens "preferences". The address is bound by a digest rather
than written out: the token travels in URLs (headers, logs) and should not reveal it.

Confirmation links expire after `confirm_max_age_days`. Unsubscribe and preference
links do not: they sit in old emails, and an unsubscribe link must keep working.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from curator.config import Settings
from curator.errors import BadToken, ConfigError

PURPOSES = ("confirm", "unsubscribe", "preferences", "address")  # address: confirms a new address
LINK_PURPOSES = ("reader",)  # a recipient's pick links (tracked redirect, feedback): names their ledger row
SALT_PREFIX = "curator.subscriber."


@dataclass(frozen=True)
class Claim:
    """What a valid token says: who it is for, and when it was made."""

    purpose: str
    subscriber_id: int
    email_digest: str
    issued_at: datetime
    attempt: str | None = None  # confirm links: the subscription attempt they were made for

    def matches(self, email: str) -> bool:
        """Whether the token was made for this address (the subscriber may have changed since)."""
        return hmac.compare_digest(self.email_digest, email_digest(email))


def email_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


@lru_cache(maxsize=64)
def _cached_serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        secret_key, salt=SALT_PREFIX + purpose, signer_kwargs={"digest_method": hashlib.sha256}
    )


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES + LINK_PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    if not settings.secret_key:
        raise ConfigError(
            "signed links need CURATOR_SECRET_KEY: set it in the environment to a long random string"
        )
    return _cached_serializer(settings.secret_key, purpose)


def make_token(settings: Settings, purpose: str, subscriber_id: int, email: str, attempt: str | None = None) -> str:
    """A URL-safe token for `purpose`, bound to the subscriber's id and address (and a confirm link's attempt)."""
    serializer = _serializer(settings, purpose)
    if attempt is not None:
        payload = json.dumps([int(subscriber_id), email_digest(email), attempt], separators=(",", ":"))
        if len(payload) > 64:  # long enough that itsdangerous might compress it: leave it to the library
            return serializer.dumps([int(subscriber_id), email_digest(email), attempt])
        return _sign_payload(settings.secret_key, (purpose,), payload.encode())[0]
    return subscriber_tokens(settings, (purpose,), subscriber_id, email)[0]


def subscriber_tokens(settings: Settings, purposes: tuple[str, ...], subscriber_id: int, email: str) -> list[str]:
    """make_token for several purposes over one subscriber: what each would write, byte for byte."""
    return subscriber_signer(settings, purposes)(subscriber_id, email)


def subscriber_signer(settings: Settings, purposes: tuple[str, ...]) -> Callable[[int, str], list[str]]:
    """subscriber_tokens for many subscribers: the purposes and the key are checked once.

    A send makes an unsubscribe and a preferences link for every recipient, so this is on the
    hot path of a million-recipient send: per subscriber, the payload and its timestamp are
    encoded once, and only the HMAC (a different key per purpose: itsdangerous' salt) is
    computed per purpose. The payload [id, "hex digest"] is written by hand: it is exactly
    json.dumps' compact form.
    """
    for purpose in purposes:
        _serializer(settings, purpose)  # a known purpose, and a secret key (ConfigError says so)
    pads = [_hmac_pads(settings.secret_key, purpose) for purpose in purposes]
    stamp = [-1, b""]  # the timestamp part, encoded once per second: [second, b".STAMP"]

    def sign(subscriber_id: int, email: str) -> list[str]:
        second = int(time.time())
        if second != stamp[0]:
            stamp[:] = second, b"." + _b64(second.to_bytes(8, "big").lstrip(b"\0"))
        value = _b64(f'[{int(subscriber_id)},"{email_digest(email)}"]'.encode("ascii")) + stamp[1]
        signed = value.decode("ascii") + "."
        return [signed + _b64(_hmac_with(inner, outer, value)).decode("ascii") for inner, outer in pads]

    return sign


def _sign_payload(secret_key: str, purposes: tuple[str, ...], payload: bytes) -> list[str]:
    """serializer.dumps(payload) for each purpose, without itsdangerous' per-call setup.

    The format: base64(json) "." base64(timestamp) "." base64(HMAC-SHA256). Payloads this short
    (callers pass at most 64 bytes) are never zlib-compressed by itsdangerous: the compressed form
    is longer.
    """
    stamp = int(time.time()).to_bytes(8, "big").lstrip(b"\0")
    value = _b64(payload) + b"." + _b64(stamp)
    signed = value.decode("ascii") + "."
    return [signed + _b64(_hmac_with(*_hmac_pads(secret_key, purpose), value)).decode("ascii") for purpose in purposes]


@lru_cache(maxsize=64)
def _signing_key(serializer: URLSafeTimedSerializer) -> bytes:
    return serializer.make_signer().derive_key()


@lru_cache(maxsize=64)
def _hmac_pads(secret_key: str, purpose: str) -> tuple:
    """HMAC-SHA256's inner and outer states for the purpose's key (itsdangerous' key for its salt), ready to copy.

    HMAC(key, msg) = H(key ^ opad || H(key ^ ipad || msg)): with both states kept, a MAC is two
    copies and two updates, a third of what hmac.new costs for a message this short.
    """
    key = _signing_key(_cached_serializer(secret_key, purpose))
    key = key if len(key) <= 64 else hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return hashlib.sha256(bytes(b ^ 0x36 for b in key)), hashlib.sha256(bytes(b ^ 0x5C for b in key))


def _hmac_with(inner_pad, outer_pad, value: bytes) -> bytes:
    """HMAC-SHA256 from the key's kept pad states (see _hmac_pads)."""
    inner, outer = inner_pad.copy(), outer_pad.copy()
    inner.update(value)
    outer.update(inner.digest())
    return outer.digest()


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> bytes:
    """base64.urlsafe_b64encode without padding, as itsdangerous writes it (binascii directly: it is called often)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


def max_age_seconds(settings: Settings, purpose: str) -> int | None:
    """How long a token of this purpose stays valid; None is for ever."""
    return settings.confirm_max_age_days * 86400 if purpose in ("confirm", "address") else None


def read_token(settings: Settings, purpose: str, token: str) -> Claim:
    """The claim a token carries, or BadToken saying why it cannot be used."""
    serializer = _serializer(settings, purpose)
    try:
        payload, signed_at = serializer.loads(
            token, max_age=max_age_seconds(settings, purpose), return_timestamp=True
        )
    except SignatureExpired as exc:
        when = exc.date_signed.astimezone(UTC).strftime("%Y-%m-%d") if exc.date_signed else "long ago"
        raise BadToken(
            f"this {purpose} link was made on {when} and has expired "
            f"(links last {settings.confirm_max_age_days} days): subscribe again to get a new one"
        ) from None
    except BadSignature:
        raise BadToken(
            f"this {purpose} link is broken or was altered: open the link from the email exactly "
            "as sent, or subscribe again"
        ) from None
    if not (
        isinstance(payload, list) and len(payload) in (2, 3)
        and isinstance(payload[0], int) and all(isinstance(part, str) for part in payload[1:])
    ):
        raise BadToken(f"this {purpose} link does not name a subscriber: subscribe again")
    attempt = payload[2] if len(payload) == 3 else None
    return Claim(purpose, payload[0], payload[1], signed_at.astimezone(UTC), attempt)


@dataclass(frozen=True)
class LinkClaim:
    """What a recipient's link token says: their ledger row, so the issue and the recipient.

    Delivery 0 is a copy outside the ledger (a test send, a preview): its links work and record nothing.
    """

    purpose: str
    delivery_id: int


LINK_MAC_BYTES = 16  # 128 bits: forging one is out of reach, and the token stays short


def _link_mac(settings: Settings, purpose: str, body: bytes) -> str:
    """HMAC-SHA256(key, body), truncated and base64url (see _hmac_pads)."""
    if purpose not in LINK_PURPOSES:
        raise ValueError(f"unknown link token purpose {purpose!r}")
    _serializer(settings, purpose)  # the secret key is set, or ConfigError says so
    return _b64(_hmac_with(*_hmac_pads(settings.secret_key, purpose), body)[:LINK_MAC_BYTES]).decode("ascii")


def make_link_token(settings: Settings, delivery_id: int, purpose: str = "reader") -> str:
    """The token of one recipient's pick links: "DELIVERY.MAC"; the pick is in the URL beside it.

    Compact rather than itsdangerous' JSON form, and one per recipient rather than one per
    pick: a million-recipient send makes a million of them. The pick a link names is checked
    against the delivery's issue when it is followed, and the article comes from the database.
    They do not expire: old emails keep working.
    """
    return link_signer(settings, purpose)(delivery_id)


def link_signer(settings: Settings, purpose: str = "reader") -> Callable[[int], str]:
    """make_link_token for many deliveries: the purpose and the key are checked once."""
    if purpose not in LINK_PURPOSES:
        raise ValueError(f"unknown link token purpose {purpose!r}")
    _serializer(settings, purpose)  # the secret key is set, or ConfigError says so
    inner, outer = _hmac_pads(settings.secret_key, purpose)

    def sign(delivery_id: int) -> str:
        body = str(int(delivery_id))
        return f"{body}.{_b64(_hmac_with(inner, outer, body.encode('ascii'))[:LINK_MAC_BYTES]).decode('ascii')}"

    return sign


def read_link_token(settings: Settings, token: str, purpose: str = "reader") -> LinkClaim:
    """The claim of a recipient's link token, or BadToken saying it is broken."""
    delivery, _, signature = token.partition(".")
    if not (delivery.isascii() and delivery.isdigit() and len(delivery) <= 18 and signature):
        raise BadToken("this link is broken: open the link from the email exactly as sent")
    expected = _link_mac(settings, purpose, str(int(delivery)).encode("ascii"))
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise BadToken("this link is broken or was altered: open the link from the email exactly as sent")
    return LinkClaim(purpose, int(delivery))
