"""`curator users`: accounts for the editors' desk and the ops console."""

from __future__ import annotations

import sys
from typing import Literal

import typer
from rich.table import Table

from curator import users as users_stage
from curator.cli._app import app, console, print_json, state

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
        user = users_stage.add_user(conn, email, role, password)
    console.print(f"Added {user['email']} ({user['role']}). They can sign in at {state.settings().base_url}/login")


@users_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the accounts and when each last signed in."""
    with state.engine("users list").connect() as conn:
        rows = users_stage.list_users(conn)
    if as_json:
        print_json(rows)
        return
    table = Table("email", "role", "created", "last sign-in")
    for row in rows:
        last = f"{row['last_login_at']:%Y-%m-%d %H:%M}" if row["last_login_at"] else "never"
        table.add_row(row["email"], row["role"], f"{row['created_at']:%Y-%m-%d}", last)
    console.print(table)
    if not rows:
        console.print("No accounts yet: `curator users add you@example.com --role editor` creates one.")
