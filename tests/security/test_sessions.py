"""Sessions live on the server: logout, a password change, a role change and disabling end them."""

from __future__ import annotations

import base64
import json

from fastapi.testclient import TestClient

from curator import users
from curator.web.session import SESSION_COOKIE
from tests.security.conftest import HOST, add_user, post, sign_in


def _replay(app, cookie: str) -> int:
    """Open /desk with nothing but a stolen session cookie; the status says whether it still works."""
    with TestClient(app, base_url=HOST, cookies={SESSION_COOKIE: cookie}) as thief:
        return thief.get("/desk", follow_redirects=False).status_code


def test_an_old_session_cookie_is_dead_after_logout(app, client, engine):
    add_user(engine, "ed@example.org")
    token = sign_in(client, "ed@example.org")
    cookie = client.cookies[SESSION_COOKIE]
    assert _replay(app, cookie) == 200
    assert post(client, "/logout", {}, token).status_code == 303
    assert _replay(app, cookie) == 303  # to the sign-in page


def test_the_cookie_carries_only_a_session_id(client, engine):
    user = add_user(engine, "ed@example.org")
    sign_in(client, "ed@example.org")
    payload = client.cookies[SESSION_COOKIE].split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert list(data) == ["s"] and str(user["id"]) != data["s"] and len(data["s"]) >= 40


def test_a_password_change_ends_every_session_of_the_user(app, engine):
    add_user(engine, "ed@example.org")
    cookies = []
    for _ in range(2):
        with TestClient(app, base_url=HOST) as browser:
            sign_in(browser, "ed@example.org")
            cookies.append(browser.cookies[SESSION_COOKIE])
    assert [_replay(app, c) for c in cookies] == [200, 200]
    with engine.begin() as conn:
        users.set_password(conn, "ed@example.org", "a brand new password")
    assert [_replay(app, c) for c in cookies] == [303, 303]


def test_a_role_change_ends_the_sessions(app, client, engine):
    add_user(engine, "ed@example.org", "admin")
    add_user(engine, "boss@example.org", "admin")
    sign_in(client, "ed@example.org")
    cookie = client.cookies[SESSION_COOKIE]
    with engine.begin() as conn:
        users.set_role(conn, "ed@example.org", "ops")
    assert _replay(app, cookie) == 303


def test_a_disabled_user_is_signed_out_and_cannot_sign_in(app, client, engine):
    add_user(engine, "ed@example.org")
    sign_in(client, "ed@example.org")
    cookie = client.cookies[SESSION_COOKIE]
    with engine.begin() as conn:
        users.set_disabled(conn, "ed@example.org", True)
    assert _replay(app, cookie) == 303
    with TestClient(app, base_url=HOST) as browser:
        from tests.security.conftest import PASSWORD, csrf

        refused = post(browser, "/login", {"email": "ed@example.org", "password": PASSWORD}, csrf(browser))
    assert refused.status_code == 401 and "disabled" in refused.text


def test_a_forged_session_cookie_is_refused(app):
    from itsdangerous import URLSafeTimedSerializer

    forged = URLSafeTimedSerializer("not-the-secret-key-of-this-server-0123", salt="curator.session").dumps({"s": "x"})
    assert _replay(app, forged) == 303
