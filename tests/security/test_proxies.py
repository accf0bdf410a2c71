"""X-Forwarded-For is believed only from configured proxies; every limit counts the client it gives."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from curator.config import load_settings
from curator.errors import ConfigError
from curator.store.schema import login_attempts
from curator.web import create_app
from tests.security.conftest import HOST, csrf, post


def _counted_ip(conf, engine, peer: str, forwarded: str | None) -> str:
    """Fail one sign-in from `peer` with that header; the IP the limit counted it under."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with TestClient(create_app(conf, engine), base_url=HOST, client=(peer, 5000)) as client:
        post(client, "/login", {"email": "x@example.org", "password": "wrong password!!"}, csrf(client),
             headers=headers)
    with engine.begin() as conn:
        keys = conn.execute(select(login_attempts.c.key)).scalars().all()
        conn.execute(login_attempts.delete())
    return next(k for k in keys if k.startswith("ip|")).removeprefix("ip|")


def test_the_header_is_ignored_without_trusted_proxies(conf, engine):
    assert _counted_ip(conf, engine, "198.51.100.7", "1.2.3.4") == "198.51.100.7"


def test_the_header_is_ignored_from_an_untrusted_peer(conf, engine):
    conf = conf.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    assert _counted_ip(conf, engine, "198.51.100.7", "1.2.3.4") == "198.51.100.7"


def test_behind_a_trusted_proxy_the_client_is_the_last_untrusted_hop(conf, engine):
    conf = conf.model_copy(update={"trusted_proxies": ["10.0.0.0/8", "192.0.2.1"]})
    assert _counted_ip(conf, engine, "10.0.0.5", "203.0.113.9") == "203.0.113.9"
    # A client's own forged entries come first; the proxies append the real address after them.
    assert _counted_ip(conf, engine, "10.0.0.5", "6.6.6.6, 203.0.113.9, 192.0.2.1") == "203.0.113.9"
    assert _counted_ip(conf, engine, "10.0.0.5", "not-an-ip") == "10.0.0.5"


def test_a_bad_proxy_setting_is_refused_with_its_value():
    with pytest.raises(ConfigError, match="CURATOR_TRUSTED_PROXIES: .*'ten.0.0.0/8' is not an IP address or CIDR"):
        load_settings(trusted_proxies=["ten.0.0.0/8"])
