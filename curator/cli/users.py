"""`curator users`: accounts for the editors' desk and the ops console."""

from __future__ import annotations

import sys
from typing import Literal

import typer
from rich.table import Table

from curator import password_reset, sessions
from curator import users as users_stage
from curator.cli._app import actor, app, console, print_json, state
from curator.errors import CuratorError

users_app = typer.Typer(help="Accounts for the desk and the ops console.", no_args_is_help=True)
app.add_typer(users_app, name="users")
# curator.store.schema.ROLES as a type: Typer checks the choice before anything is asked (tests hold them equal).
Role = Literal["editor", "ops", "admin"]


@users_app.command("add")
def add(
    email: str = typer.Argument(..., help="The person's email address; they sign in with it."),
    role: Role = typer.Option(..., "--role", help="Editors curate, ops send, admins both."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
) -> None:
    """Create an account; the password is asked for (or read from stdin) and stored as an argon2 hash."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with state.engine("users add").begin() as conn:
        user = users_stage.add_user(conn, email, role, password, actor=actor())
    console.print(f"Added {user['email']} ({user['role']}). They can sign in at {state.settings().base_url}/login")


@users_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the accounts and when each last signed in."""
    with state.engine("users list").connect() as conn:
        rows = users_stage.list_users(conn)
    if as_json:
        print_json(rows)
        return
    table = Table("email", "role", "created", "last sign-in", "status")
    for row in rows:
        last = f"{row['last_login_at']:%Y-%m-%d %H:%M}" if row["last_login_at"] else "never"
        status = "disabled" if row["disabled"] else "active"
        table.add_row(row["email"], row["role"], f"{row['created_at']:%Y-%m-%d}", last, status)
    console.print(table)
    if not rows:
        console.print("No accounts yet: `curator users add you@example.com --role editor` creates one.")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("New password", hide_input=True, confirmation_prompt=True)


@users_app.command("role")
def role(
    email: str = typer.Argument(..., help="The account's email address."),
    new_role: Role = typer.Argument(..., metavar="ROLE", help="editor, ops or admin."),
) -> None:
    """Change an account's role; the person is signed out everywhere, so it applies at once."""
    with state.engine("users role").begin() as conn:
        user = users_stage.set_role(conn, email, new_role, actor=actor())
    console.print(f"{user['email']} is now {user['role']}; their sessions were ended.")


@users_app.command("disable")
def disable(email: str = typer.Argument(..., help="The account's email address.")) -> None:
    """Stop an account from signing in (kept, with its history); it is signed out everywhere."""
    with state.engine("users disable").begin() as conn:
        user = users_stage.set_disabled(conn, email, True, actor=actor())
    console.print(f"Disabled {user['email']}: signed out, and sign-in refused. `curator users enable` undoes it.")


@users_app.command("enable")
def enable(email: str = typer.Argument(..., help="The account's email address.")) -> None:
    """Let a disabled account sign in again."""
    with state.engine("users enable").begin() as conn:
        user = users_stage.set_disabled(conn, email, False, actor=actor())
    console.print(f"Enabled {user['email']}: they can sign in again.")


@users_app.command("remove")
def remove(
    email: str = typer.Argument(..., help="The account's email address."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete an account for good (the audit log keeps its address); `disable` keeps it instead."""
    if not yes:
        if not sys.stdin.isatty():
            raise CuratorError(f"removing {email} needs --yes when there is no terminal to ask on")
        typer.confirm(f"Remove the account {email} for good?", abort=True)
    with state.engine("users remove").begin() as conn:
        user = users_stage.remove_user(conn, email, actor=actor())
    console.print(f"Removed {user['email']} ({user['role']}).")


@users_app.command("reset-password")
def reset_password(
    email: str = typer.Argument(..., help="The account's email address."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the new password from standard input."),
    send_link: bool = typer.Option(
        False, "--send-link", help="Email them a link to choose a password themselves (valid one hour) instead."
    ),
) -> None:
    """Set a new password (asked for, or from stdin), or email a reset link; their sessions end either way."""
    settings = state.settings()
    if send_link:
        from curator.deliver import send_transactional

        with state.engine("users reset-password").begin() as conn:
            user = users_stage.get_user(conn, email)
            sessions.revoke_user(conn, user["id"])
        password_reset.send_link(settings, user, send_transactional)
        console.print(f"Sent {user['email']} a link to set a new password (it works once, for an hour).")
        return
    password = _read_password(password_stdin)
    with state.engine("users reset-password").begin() as conn:
        user = users_stage.set_password(conn, email, password, actor=actor())
    console.print(f"Set a new password for {user['email']}; their sessions were ended.")
