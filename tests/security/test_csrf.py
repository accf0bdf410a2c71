"""CSRF tokens are bound to the session: a token from another session, or from before sign-in, is refused."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from curator.store.schema import audit_log
from tests.security.conftest import HOST, add_user, csrf, post, sign_in


def _audit_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(audit_log)).scalar_one()


def test_a_token_from_another_session_is_refused(app, client, engine):
    add_user(engine, "ed@example.org")
    add_user(engine, "eve@example.org")
    sign_in(client, "ed@example.org")
    with TestClient(app, base_url=HOST) as attacker:
        foreign = sign_in(attacker, "eve@example.org")
    response = post(client, "/desk/draft", {"period": "2026-12"}, foreign)
    assert response.status_code == 403 and "security token" in response.text
    assert _audit_count(engine) == 0


def test_the_same_user_in_another_session_has_another_token(app, client, engine):
    add_user(engine, "ed@example.org")
    mine = sign_in(client, "ed@example.org")
    with TestClient(app, base_url=HOST) as other:
        theirs = sign_in(other, "ed@example.org")
    assert mine != theirs
    assert post(client, "/desk/draft", {"period": "2026-12"}, theirs).status_code == 403


def test_the_token_from_before_sign_in_is_refused_after(client, engine):
    add_user(engine, "ed@example.org")
    before = csrf(client)
    sign_in(client, "ed@example.org")
    assert post(client, "/desk/draft", {"period": "2026-12"}, before).status_code == 403


def test_a_missing_token_is_refused(client, engine):
    add_user(engine, "ed@example.org")
    sign_in(client, "ed@example.org")
    assert post(client, "/desk/draft", {"period": "2026-12"}).status_code == 403
