"""/subscribe as a mail cannon: floods per address and per IP, the honeypot, long names, telling answers apart."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from curator import store
from curator.store.schema import subscribers
from curator.web.app import create_app
from tests.web.test_public import FEEDS_YAML


@pytest.fixture
def conf(settings, tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS_YAML)
    return settings.model_copy(update={"feeds": path, "subscribe_ip_limit": 5})


def _client(conf, engine, ip: str = "203.0.113.7") -> TestClient:
    return TestClient(create_app(conf, engine), base_url="https://news.example.org", client=(ip, 40000))


def _mails(conf, to: str | None = None) -> list[str]:
    files = sorted(conf.outbox_dir.glob("*.eml")) if conf.outbox_dir.exists() else []
    texts = [f.read_text() for f in files]
    return [t for t in texts if to is None or f"To: {to}" in t]


def _post(client, email: str, **extra) -> str:
    response = client.post("/subscribe", data={"email": email, "name": "", **extra})
    assert response.status_code == 200, response.text
    return re.sub(r'nonce="[^"]*"', 'nonce=""', response.text)  # the CSP nonce is new on every response


def test_twenty_posts_for_one_address_mail_it_once(conf, engine):
    with _client(conf, engine) as client:
        pages = {_post(client, "victim@example.com", name=f"Spam {n}") for n in range(20)}
    assert len(_mails(conf, "victim@example.com")) == 1
    assert len(pages) == 1  # the same page every time: nothing tells the attacker a limit was hit
    with engine.connect() as conn:  # and the later posts changed nothing (not even the name)
        assert conn.execute(select(subscribers.c.name)).scalar_one() == "Spam 0"


def test_one_ip_cannot_mail_many_addresses(conf, engine):
    with _client(conf, engine) as client:
        for n in range(12):
            _post(client, f"person{n}@example.com")
    assert len(_mails(conf)) == conf.subscribe_ip_limit
    with _client(conf, engine, ip="198.51.100.1") as other:  # someone else is not blocked by it
        _post(other, "someone@example.com")
    assert len(_mails(conf, "someone@example.com")) == 1


def test_hopping_within_an_ipv6_64_does_not_reset_the_limit(conf, engine):
    for n in range(8):
        with _client(conf, engine, ip=f"2001:db8:1:2::{n + 1:x}") as client:
            _post(client, f"person{n}@example.com")
    assert len(_mails(conf)) == conf.subscribe_ip_limit


def test_the_limits_hold_across_web_processes(conf, db_url):
    """Two apps with engines of their own, as two processes behind a load balancer: one database's counters."""
    first, second = store.make_engine(db_url), store.make_engine(db_url)
    try:
        with _client(conf, first) as a, _client(conf, second) as b:
            for client in (a, b, a, b):
                _post(client, "victim@example.com")
    finally:
        first.dispose()
        second.dispose()
    assert len(_mails(conf, "victim@example.com")) == 1


def test_the_honeypot_answers_the_same_and_does_nothing(conf, engine):
    with _client(conf, engine) as client:
        trapped = _post(client, "bot-target@example.com", website="https://spam.example")
        normal = _post(client, "human@example.com")
    # The same page, but for the address typed in, which the page names.
    assert trapped.replace("bot-target@example.com", "ADDRESS") == normal.replace("human@example.com", "ADDRESS")
    assert _mails(conf, "bot-target@example.com") == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(subscribers)).scalar_one() == 1


def test_a_long_name_is_refused_and_never_mailed(conf, engine):
    advert = "Claim your prize at https://evil.example/win now, " * 4
    with _client(conf, engine) as client:
        response = client.post("/subscribe", data={"email": "victim@example.com", "name": advert})
    assert response.status_code == 400 and "at most 60 characters" in response.text
    assert _mails(conf) == []


def test_new_existing_and_limited_addresses_get_one_answer(conf, engine):
    with _client(conf, engine) as client:
        new = _post(client, "new@example.com")
        again = _post(client, "new@example.com")  # limited
    with engine.begin() as conn:
        from curator import subscribers as subs

        subs.add(conn, "member@example.com")
    with _client(conf, engine, ip="198.51.100.2") as client:
        existing = _post(client, "member@example.com")
    # The same page, but for the address typed in, which the page names.
    assert new == again == existing.replace("member@example.com", "new@example.com")
