"""A sign-in flood: limits per client and per address hold before any hash runs; hashes are bounded.

The app's hash gate is a semaphore of `login_concurrent_hashes` slots. A test that holds
every slot can tell where an attempt stopped: refused by a limit (no hash was needed), or
refused as busy (it reached the hashing step).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from curator.store.schema import login_attempts
from curator.web import create_app
from tests.security.conftest import HOST, PASSWORD, add_user, csrf, post


@pytest.fixture
def strict(conf, engine):
    return create_app(conf.model_copy(update={"login_ip_max_failures": 3, "login_concurrent_hashes": 2}), engine)


def _attempt(client, email: str, password: str = "wrong password!!"):
    return post(client, "/login", {"email": email, "password": password}, csrf(client))


def _hold_every_slot(app) -> int:
    held = 0
    while app.state.hash_gate.acquire(blocking=False):
        held += 1
    return held


def test_made_up_addresses_from_one_client_are_refused_before_hashing(strict, engine):
    add_user(engine, "ed@example.org")
    with TestClient(strict, base_url=HOST) as client:
        for n in range(3):
            assert _attempt(client, f"nobody{n}@example.org").status_code == 401
        assert _hold_every_slot(strict) == 2
        refused = _attempt(client, "nobody9@example.org")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "too many failed sign-ins from your network" in refused.text  # a limit, not "busy": no hash ran
        # The right password of a real account is refused too while the limit holds.
        assert _attempt(client, "ed@example.org", PASSWORD).status_code == 429


def test_excess_concurrent_hashes_get_429_not_a_queue(strict, engine):
    add_user(engine, "ed@example.org")
    with TestClient(strict, base_url=HOST) as client:
        _hold_every_slot(strict)
        busy = _attempt(client, "ed@example.org", PASSWORD)
        assert busy.status_code == 429 and busy.headers["Retry-After"] == "5"
        assert "busy" in busy.text
        strict.state.hash_gate.release()
        assert _attempt(client, "ed@example.org", PASSWORD).status_code == 303


def test_a_made_up_address_is_hashed_like_a_real_one_and_counted(strict, engine):
    with TestClient(strict, base_url=HOST) as client:
        _hold_every_slot(strict)
        # An unknown address waits for a hash slot exactly like a known one (the dummy hash).
        assert "busy" in _attempt(client, "nobody@example.org").text
        strict.state.hash_gate.release()
        assert _attempt(client, "nobody@example.org").status_code == 401
    with engine.connect() as conn:
        keys = set(conn.execute(select(login_attempts.c.key)).scalars())
    assert {"ip|testclient", "address|nobody@example.org"} <= keys


def test_one_address_guessed_from_many_clients_is_limited(conf, engine):
    add_user(engine, "ed@example.org")
    app = create_app(conf.model_copy(update={"login_address_max_failures": 3}), engine)
    for n in range(3):
        with TestClient(app, base_url=HOST, client=(f"203.0.113.{n + 1}", 4000)) as client:
            assert _attempt(client, "ed@example.org").status_code == 401
    with TestClient(app, base_url=HOST, client=("203.0.113.99", 4000)) as client:
        refused = _attempt(client, "ed@example.org", PASSWORD)
    assert refused.status_code == 429 and "Forgot your password?" in refused.text
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).where(login_attempts.c.key == "address|ed@example.org")).scalar() == 3
