"""Signed subscriber links: bound to a purpose, a subscriber and an address; forged ones refused."""

from __future__ import annotations

import hashlib
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from curator import tokens
from curator.config import Settings
from curator.errors import BadToken, ConfigError


@pytest.fixture
def keyed():
    return Settings(secret_key="a-secret-key-for-tests-0123456789-abc", confirm_max_age_days=7)


def test_a_token_names_its_subscriber_and_address(keyed):
    token = tokens.make_token(keyed, "confirm", 42, "Ann@Example.com")
    claim = tokens.read_token(keyed, "confirm", token)
    assert claim.subscriber_id == 42 and claim.purpose == "confirm"
    assert claim.matches("ann@example.com") and not claim.matches("bob@example.com")


def test_the_address_is_not_readable_in_the_token(keyed):
    import base64

    token = tokens.make_token(keyed, "unsubscribe", 7, "ann@example.com")
    payload = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b"ann" not in decoded and b"example" not in decoded


def test_a_token_only_opens_its_own_purpose(keyed):
    token = tokens.make_token(keyed, "preferences", 1, "ann@example.com")
    with pytest.raises(BadToken, match="unsubscribe link is broken or was altered"):
        tokens.read_token(keyed, "unsubscribe", token)


def test_an_altered_token_is_refused(keyed):
    token = tokens.make_token(keyed, "unsubscribe", 1, "ann@example.com")
    other = tokens.make_token(keyed, "unsubscribe", 2, "ann@example.com")
    spliced = other.split(".")[0] + "." + ".".join(token.split(".")[1:])  # subscriber 2's payload, 1's signature
    for bad in (spliced, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "garbage", ""):
        with pytest.raises(BadToken, match="broken or was altered"):
            tokens.read_token(keyed, "unsubscribe", bad)


def test_a_token_signed_with_another_key_is_forged(keyed):
    forger = Settings(secret_key="not-our-secret-key-at-all-0123456789")
    token = tokens.make_token(forger, "confirm", 1, "ann@example.com")
    with pytest.raises(BadToken, match="broken or was altered"):
        tokens.read_token(keyed, "confirm", token)


def _made_days_ago(settings, purpose, days, subscriber_id, email):
    """A genuine token, signed as if `days` ago (the signer's clock, not ours, is moved)."""

    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - days * 86400

    serializer = URLSafeTimedSerializer(
        settings.secret_key, salt=tokens.SALT_PREFIX + purpose, signer=PastSigner,
        signer_kwargs={"digest_method": hashlib.sha256},
    )
    return serializer.dumps([subscriber_id, tokens.email_digest(email)])


def test_confirmation_links_expire_and_unsubscribe_links_do_not(keyed):
    fresh = _made_days_ago(keyed, "confirm", 6, 1, "ann@example.com")
    assert tokens.read_token(keyed, "confirm", fresh).subscriber_id == 1
    stale = _made_days_ago(keyed, "confirm", 8, 1, "ann@example.com")
    with pytest.raises(BadToken, match="has expired .*subscribe again"):
        tokens.read_token(keyed, "confirm", stale)
    old_unsubscribe = _made_days_ago(keyed, "unsubscribe", 400, 1, "ann@example.com")
    assert tokens.read_token(keyed, "unsubscribe", old_unsubscribe).subscriber_id == 1


def test_a_missing_secret_is_named():
    with pytest.raises(ConfigError, match="CURATOR_SECRET_KEY"):
        tokens.make_token(Settings(secret_key=None), "confirm", 1, "ann@example.com")


def test_the_fast_signer_writes_exactly_what_itsdangerous_writes(monkeypatch):
    """make_token skips itsdangerous' per-call setup (a send signs two links per recipient)."""
    import hashlib

    from itsdangerous import TimestampSigner, URLSafeTimedSerializer
    from itsdangerous.encoding import base64_decode

    from curator.config import Settings
    from curator.tokens import SALT_PREFIX, email_digest, make_token

    settings = Settings(secret_key="k" * 40)
    for subscriber_id in (1, 12345, 2**40):
        token = make_token(settings, "unsubscribe", subscriber_id, "Ada@Example.com")
        stamp = int.from_bytes(base64_decode(token.split(".")[1]), "big")
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self, stamp=stamp: stamp)
        plain = URLSafeTimedSerializer(
            "k" * 40, salt=SALT_PREFIX + "unsubscribe", signer_kwargs={"digest_method": hashlib.sha256}
        )
        assert token == plain.dumps([subscriber_id, email_digest("ada@example.com")])
