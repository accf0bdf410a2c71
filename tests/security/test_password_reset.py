"""“Forgot your password?”: a signed link by email that works once, for an hour; no account oracle."""

from __future__ import annotations

import email
import email.policy
import re
import time

from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from curator import password_reset
from curator.store.schema import audit_log
from curator.web.session import SESSION_COOKIE
from tests.security.conftest import HOST, PASSWORD, add_user, csrf, post, sign_in

NEW = "a new password, long enough"


def _mails(conf) -> list[email.message.EmailMessage]:
    folder = conf.outbox_dir
    paths = sorted(folder.glob("transactional-*.eml")) if folder.exists() else []
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in paths]


def _link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"https://news\.example\.org(/login/reset/\S+)", text).group(1)


def _ask(client, address: str):
    return post(client, "/login/forgot", {"email": address}, csrf(client, "/login/forgot"))


def test_the_same_answer_whether_the_account_exists_or_not(client, engine, conf):
    add_user(engine, "ed@example.org")
    known, unknown, garbage = _ask(client, "ed@example.org"), _ask(client, "nobody@example.org"), _ask(client, "@@")
    strip = lambda r: re.sub(r'(nonce|value)="[^"]+"', "", r.text)  # noqa: E731 - per-response nonce and token
    assert known.status_code == unknown.status_code == garbage.status_code == 200
    assert strip(known) == strip(unknown) == strip(garbage)
    assert [m["To"] for m in _mails(conf)] == ["ed@example.org"]


def test_the_link_sets_a_password_once_and_ends_every_session(app, client, engine, conf):
    add_user(engine, "ed@example.org")
    with TestClient(app, base_url=HOST) as elsewhere:
        sign_in(elsewhere, "ed@example.org")
        stolen = elsewhere.cookies[SESSION_COOKIE]
    _ask(client, "ed@example.org")
    link = _link(_mails(conf)[0])
    form = client.get(link)
    assert form.status_code == 200 and "ed@example.org" in form.text
    done = post(client, link, {"password": NEW, "confirm": NEW}, csrf(client, link))
    assert done.status_code == 303 and done.headers["location"] == "/login"
    with TestClient(app, base_url=HOST, cookies={SESSION_COOKIE: stolen}) as thief:
        assert thief.get("/desk", follow_redirects=False).status_code == 303
    # Used once: the same link is refused, for the form and for a second post.
    assert client.get(link).status_code == 400
    again = post(client, link, {"password": "yet another password", "confirm": "yet another password"},
                 csrf(client, "/login/forgot"))
    assert again.status_code == 400 and "already used" in again.text
    sign_in(client, "ed@example.org", NEW)
    with engine.connect() as conn:
        assert ("ed@example.org", "user.password") in conn.execute(select(audit_log.c.actor, audit_log.c.action)).all()


def test_an_expired_forged_or_altered_link_is_refused(client, engine, conf):
    user = add_user(engine, "ed@example.org")
    stamp = password_reset._stamp(user["password_hash"])

    class TwoHoursAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 7200

    old = URLSafeTimedSerializer(conf.secret_key, salt="curator.password-reset", signer=TwoHoursAgo)
    expired = old.dumps({"u": user["id"], "p": stamp})
    forged = URLSafeTimedSerializer("another-secret-key-entirely-0123456789", salt="curator.password-reset").dumps(
        {"u": user["id"], "p": stamp})
    good = password_reset.make_link(conf, user).rsplit("/", 1)[1]
    altered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    for token in (expired, forged, altered):
        response = post(client, f"/login/reset/{token}", {"password": NEW, "confirm": NEW}, csrf(client))
        assert response.status_code == 400, token
    sign_in(client, "ed@example.org", PASSWORD)  # the password did not change


def test_links_to_one_address_are_capped(client, engine, conf):
    add_user(engine, "ed@example.org")
    for _ in range(password_reset.LINKS_PER_WINDOW + 3):
        assert _ask(client, "ed@example.org").status_code == 200
    assert len(_mails(conf)) == password_reset.LINKS_PER_WINDOW


def test_the_lockout_points_to_the_way_out_and_it_exists(conf, engine):
    from curator.web import create_app

    add_user(engine, "ed@example.org")
    app = create_app(conf.model_copy(update={"login_max_failures": 2}), engine)
    with TestClient(app, base_url=HOST) as client:
        for _ in range(2):
            post(client, "/login", {"email": "ed@example.org", "password": "wrong password!!"}, csrf(client))
        locked = post(client, "/login", {"email": "ed@example.org", "password": PASSWORD}, csrf(client))
        assert locked.status_code == 429 and "Forgot your password?" in locked.text
        assert 'href="/login/forgot"' in locked.text
        _ask(client, "ed@example.org")
        link = _link(_mails(conf)[0])
        post(client, link, {"password": NEW, "confirm": NEW}, csrf(client, link))
        # A new password clears the address's failures: the person is back in.
        sign_in(client, "ed@example.org", NEW)
