"""Accounts: argon2 hashes, roles, sign-in and its rate limit, and `curator users`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update
from typer.testing import CliRunner

from curator import users
from curator.errors import AuthError, CuratorError, InvalidAddress, TooManyAttempts
from curator.store.schema import login_attempts, now
from curator.store.schema import users as users_table
from tests import newsroom

PASSWORD = newsroom.PASSWORD


@pytest.fixture
def editor(engine):
    with engine.begin() as conn:
        return newsroom.add_user(conn, "ed@example.org", "editor")


def test_passwords_are_stored_as_argon2_hashes(engine):
    with engine.begin() as conn:
        editor = users.add_user(conn, " Ed@Example.org ", "editor", PASSWORD)
    assert editor["email"] == "ed@example.org"
    assert editor["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in editor["password_hash"]


def test_bad_accounts_are_refused_with_the_reason(engine, editor):
    with engine.begin() as conn:
        with pytest.raises(CuratorError, match="ed@example.org already has an account"):
            users.add_user(conn, "ed@example.org", "ops", PASSWORD)
        with pytest.raises(CuratorError, match="'boss' is not a role: use one of editor, ops, admin"):
            users.add_user(conn, "b@example.org", "boss", PASSWORD)
        with pytest.raises(CuratorError, match="too short: use at least 10"):
            users.add_user(conn, "c@example.org", "ops", "short")
        with pytest.raises(InvalidAddress, match="'not-an-address' is not an email address"):
            users.add_user(conn, "not-an-address", "ops", PASSWORD)


def test_sign_in_with_the_right_password_only(engine, settings, editor):
    user = users.authenticate(engine, settings, "ED@example.org", PASSWORD, "10.0.0.1")
    assert user["id"] == editor["id"]
    with engine.connect() as conn:
        assert users.get_user(conn, "ed@example.org")["last_login_at"] is not None
    with pytest.raises(AuthError, match="the email or password is wrong"):
        users.authenticate(engine, settings, "ed@example.org", "wrong password!", "10.0.0.1")
    with pytest.raises(AuthError, match="the email or password is wrong"):
        users.authenticate(engine, settings, "nobody@example.org", PASSWORD, "10.0.0.1")


def test_failed_sign_ins_are_limited_per_address_and_ip(engine, settings, editor):
    settings = settings.model_copy(update={"login_max_failures": 3})
    for _ in range(3):
        with pytest.raises(AuthError) as caught:
            users.authenticate(engine, settings, "ed@example.org", "wrong password!", "10.0.0.1")
        assert not isinstance(caught.value, TooManyAttempts)
    # Now even the right password is refused from there, and the refusal says what to do.
    with pytest.raises(TooManyAttempts, match="wait 15 minutes and try again"):
        users.authenticate(engine, settings, "ed@example.org", PASSWORD, "10.0.0.1")
    # Another IP is not limited by them.
    assert users.authenticate(engine, settings, "ed@example.org", PASSWORD, "10.0.0.2")["id"] == editor["id"]
    # Failures older than the window no longer count.
    with engine.begin() as conn:
        conn.execute(update(login_attempts).values(at=now() - timedelta(minutes=16)))
    assert users.authenticate(engine, settings, "ed@example.org", PASSWORD, "10.0.0.1")["id"] == editor["id"]


def test_a_success_clears_earlier_failures(engine, settings, editor):
    settings = settings.model_copy(update={"login_max_failures": 2})
    with pytest.raises(AuthError):
        users.authenticate(engine, settings, "ed@example.org", "wrong password!", "10.0.0.1")
    users.authenticate(engine, settings, "ed@example.org", PASSWORD, "10.0.0.1")
    with pytest.raises(AuthError) as caught:
        users.authenticate(engine, settings, "ed@example.org", "wrong password!", "10.0.0.1")
    assert not isinstance(caught.value, TooManyAttempts)
    with engine.connect() as conn:
        pair = conn.execute(select(login_attempts.c.ok).where(login_attempts.c.key == "ed@example.org|10.0.0.1"))
        assert pair.scalars().all() == [False]  # the one failure since the success


def test_an_outdated_hash_is_upgraded_at_sign_in(engine, settings, editor):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    with engine.begin() as conn:
        conn.execute(update(users_table).values(password_hash=weak))
    users.authenticate(engine, settings, "ed@example.org", PASSWORD, "10.0.0.1")
    with engine.connect() as conn:
        assert users.get_user(conn, "ed@example.org")["password_hash"] != weak


def test_attempts_from_before_the_window_are_cleaned_up(engine, settings, editor):
    with engine.begin() as conn:
        conn.execute(insert(login_attempts), [{"key": "x|y", "ok": False, "at": now() - timedelta(days=2)}])
    users.authenticate(engine, settings, "ed@example.org", PASSWORD, "10.0.0.1")
    with engine.connect() as conn:
        assert "x|y" not in conn.execute(select(login_attempts.c.key)).scalars().all()


def test_cli_users_add_and_list(settings):
    from curator.cli import app as cli_app
    from curator.cli._app import state

    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        try:
            return runner.invoke(cli_app, ["--database-url", settings.database_url, "users", *args], input=input)
        finally:
            if state._engine is not None:
                state._engine.dispose()

    added = run("add", "Ops@Example.org", "--role", "ops", "--password-stdin", input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert "Added ops@example.org (ops)" in added.output
    prompted = run("add", "ed@example.org", "--role", "editor", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output
    listed = run("list", "--json")
    rows = json.loads(listed.stdout.strip().splitlines()[-1])
    assert [(r["email"], r["role"]) for r in rows] == [("ed@example.org", "editor"), ("ops@example.org", "ops")]
    assert "never" in run("list").output
    short = run("add", "x@example.org", "--role", "ops", "--password-stdin", input="short\n")
    assert "too short" in str(short.exception)


def test_cli_users_add_refuses_an_unknown_role_before_asking_for_the_password(settings, engine):
    from typing import get_args

    from curator.cli import app as cli_app
    from curator.cli.users import Role
    from curator.store.schema import ROLES

    assert get_args(Role) == ROLES  # the CLI's choices are the database's roles
    result = CliRunner().invoke(
        cli_app, ["--database-url", settings.database_url, "users", "add", "x@example.org", "--role", "superuser"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--role'" in result.output and "'superuser' is not one of" in result.output
    assert "Password" not in result.output
    with engine.connect() as conn:
        assert users.list_users(conn) == []
