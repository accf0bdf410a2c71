"""Managing accounts: `curator users …` and the admins' page, each change audited and ending sessions."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from curator import users
from curator.store.schema import audit_log
from curator.web.session import SESSION_COOKIE
from tests.security.conftest import HOST, PASSWORD, add_user, post, sign_in


@pytest.fixture
def cli(db_url, conf):
    from curator.cli import app as cli_app
    from curator.cli._app import state

    def run(*args: str, input: str | None = None):
        try:
            env = {"CURATOR_SECRET_KEY": conf.secret_key, "CURATOR_OUTBOX_DIR": str(conf.outbox_dir)}
            return CliRunner().invoke(cli_app, ["--database-url", db_url, "users", *args], input=input, env=env)
        finally:
            if state._engine is not None:
                state._engine.dispose()

    return run


def _audit(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(audit_log.c.action, audit_log.c.target).order_by(audit_log.c.id))]


def _user(engine, email: str) -> dict:
    with engine.connect() as conn:
        return users.get_user(conn, email)


def test_every_users_verb_has_help(cli):
    for verb in ("add", "list", "remove", "disable", "enable", "role", "reset-password"):
        result = cli(verb, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output, verb


def test_the_cli_manages_accounts_and_audits_it(cli, engine, app):
    add_user(engine, "boss@example.org", "admin")
    add_user(engine, "ed@example.org")
    with TestClient(app, base_url=HOST) as browser:
        sign_in(browser, "ed@example.org")
        cookie = browser.cookies[SESSION_COOKIE]
    assert cli("role", "ed@example.org", "ops").exit_code == 0
    assert _user(engine, "ed@example.org")["role"] == "ops"
    with TestClient(app, base_url=HOST, cookies={SESSION_COOKIE: cookie}) as thief:
        assert thief.get("/ops", follow_redirects=False).status_code == 303  # signed out by the change
    assert cli("disable", "ed@example.org").exit_code == 0 and _user(engine, "ed@example.org")["disabled"]
    assert cli("enable", "ed@example.org").exit_code == 0 and not _user(engine, "ed@example.org")["disabled"]
    assert cli("reset-password", "ed@example.org", "--password-stdin", input="fresh password 123\n").exit_code == 0
    assert users.authenticate(engine, app.state.settings, "ed@example.org", "fresh password 123", "10.1.1.1")
    assert cli("reset-password", "ed@example.org", "--send-link").exit_code == 0
    assert list(app.state.settings.outbox_dir.glob("transactional-*.eml"))
    assert cli("remove", "ed@example.org", "--yes").exit_code == 0
    actions = [a for a, _ in _audit(engine)]
    assert actions == ["user.role", "user.disable", "user.enable", "user.password", "user.remove"]


def test_the_cli_says_what_went_wrong(cli, engine):
    add_user(engine, "boss@example.org", "admin")
    add_user(engine, "ed@example.org")
    missing = cli("disable", "nobody@example.org")
    assert missing.exit_code != 0 and "there is no user nobody@example.org" in str(missing.exception or missing.output)
    bad_role = cli("role", "ed@example.org", "boss")
    assert bad_role.exit_code != 0 and "boss" in bad_role.output
    last_admin = cli("role", "boss@example.org", "editor")
    assert "boss@example.org is the last admin" in str(last_admin.exception or last_admin.output)
    no_terminal = cli("remove", "ed@example.org")
    assert "needs --yes" in str(no_terminal.exception or no_terminal.output)
    assert _user(engine, "ed@example.org")


def _admin_token(client) -> str:
    page = client.get("/admin/users")
    assert page.status_code == 200, page.text[:300]
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_the_admin_page_adds_changes_disables_and_removes(client, engine):
    add_user(engine, "boss@example.org", "admin")
    sign_in(client, "boss@example.org")
    token = _admin_token(client)
    added = post(client, "/admin/users", {"email": "New@Example.org", "role": "editor", "password": PASSWORD}, token)
    assert added.status_code == 303
    new = _user(engine, "new@example.org")
    post(client, f"/admin/users/{new['id']}/role", {"role": "ops"}, token)
    post(client, f"/admin/users/{new['id']}/disable", {}, token)
    assert _user(engine, "new@example.org")["role"] == "ops" and _user(engine, "new@example.org")["disabled"]
    post(client, f"/admin/users/{new['id']}/enable", {}, token)
    post(client, f"/admin/users/{new['id']}/password-link", {}, token)
    post(client, f"/admin/users/{new['id']}/remove", {}, token)
    with engine.connect() as conn:
        assert users.user_by_id(conn, new["id"]) is None
        actors = set(conn.execute(select(audit_log.c.actor)).scalars())
    assert [a for a, _ in _audit(engine)] == [
        "user.add", "user.role", "user.disable", "user.enable", "user.password_link", "user.remove",
    ]
    assert actors == {"boss@example.org"}
    page = client.get("/admin/users").text
    assert "Removed new@example.org." in page


def test_the_admin_page_refuses_without_csrf_and_without_the_role(client, engine, app):
    add_user(engine, "boss@example.org", "admin")
    add_user(engine, "ed@example.org")
    sign_in(client, "boss@example.org")
    ed = _user(engine, "ed@example.org")
    assert post(client, f"/admin/users/{ed['id']}/remove", {}).status_code == 403
    with TestClient(app, base_url=HOST) as editor:
        token = sign_in(editor, "ed@example.org")
        assert editor.get("/admin/users", follow_redirects=False).status_code == 403
        assert post(editor, "/admin/users", {"email": "x@example.org", "role": "admin", "password": PASSWORD},
                    token).status_code == 403
    with TestClient(app, base_url=HOST) as anonymous:
        assert anonymous.get("/admin/users", follow_redirects=False).status_code == 303
    assert _user(engine, "ed@example.org") and _audit(engine) == []
