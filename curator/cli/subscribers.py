"""`curator subscribers`: add, import, list, export, and a person's data (export-data, forget)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from curator import subscribers
from curator.cli._app import app, console, print_json, state
from curator.editorial import audit

subscribers_app = typer.Typer(help="Add, import, list and export subscribers; export or erase a person's data.",
                              no_args_is_help=True)
app.add_typer(subscribers_app, name="subscribers")

ACTOR = "cli"


def _known_topics() -> list[str]:
    from curator.sources import load_sources

    return load_sources(state.settings().feeds).topic_names


@subscribers_app.command("add")
def add(
    email: str = typer.Argument(..., help="The address to add."),
    name: str = typer.Option("", "--name", help="The subscriber's name, used in the greeting."),
    topics: str = typer.Option("", "--topics", help="Topics from feeds.yaml, comma separated (default: all)."),
) -> None:
    """Add an ACTIVE subscriber, without a confirmation email.

    Use it only for people who agreed to receive the newsletter: the public form is the
    double opt-in way in. A bounced or complained address is refused.
    """
    wanted = subscribers.split_topics(topics)
    with state.engine("subscribers add").begin() as conn:
        sub = subscribers.add(conn, email, name=name, topics=wanted,
                              known_topics=_known_topics() if wanted else None, source="cli")
        audit(conn, ACTOR, "subscriber.add", f"subscriber:{sub['id']}")
    topic_text = ", ".join(sub["topics"]) or "all topics"
    console.print(f"Added {sub['email']} (subscriber {sub['id']}, active, {topic_text}).", highlight=False)


@subscribers_app.command("import")
def import_(
    file: Path = typer.Argument(..., help="CSV with the columns email,name,topics (topics separated by ;)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Add ACTIVE subscribers from a CSV; every refused row is reported with its line, the rest imported.

    Only for people who agreed to receive the newsletter (no confirmation email is sent).
    """
    with state.engine("subscribers import").begin() as conn:
        report = subscribers.import_csv(conn, file, known_topics=_known_topics())
        audit(conn, ACTOR, "subscriber.import", str(file),
              f"{len(report.added)} added, {len(report.rejected)} refused")
    if as_json:
        print_json(report.as_dict())
        return
    for rejected in report.rejected:
        console.print(f"{file}:{rejected.line}: {rejected.reason}", highlight=False, soft_wrap=True)
    console.print(f"Imported {len(report.added)} subscriber(s); refused {len(report.rejected)} row(s).")


def _row(sub: dict) -> dict:
    return {
        "id": sub["id"], "email": sub["email"], "name": sub["name"], "status": sub["status"],
        "topics": sub["topics"], "source": sub["source"], "created_at": sub["created_at"].isoformat(),
        "confirmed_at": sub["confirmed_at"].isoformat() if sub["confirmed_at"] else None,
    }


@subscribers_app.command("list")
def list_(
    status: str = typer.Option(None, "--status", help="Only this status: pending, active, unsubscribed, ..."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List subscribers."""
    with state.engine("subscribers list").connect() as conn:
        rows = subscribers.list_subscribers(conn, status)
    if as_json:
        print_json([_row(sub) for sub in rows])
        return
    table = Table("id", "email", "name", "status", "topics", "since")
    for sub in rows:
        table.add_row(str(sub["id"]), sub["email"], sub["name"], sub["status"],
                      ", ".join(sub["topics"]) or "all", f"{sub['created_at']:%Y-%m-%d}")
    console.print(table)
    console.print(f"{len(rows)} subscriber(s)")


@subscribers_app.command("export")
def export(
    file: Path = typer.Argument(None, help="Write here (default: standard output)."),
    status: str = typer.Option(None, "--status", help="Only this status."),
) -> None:
    """Export subscribers as CSV (topics separated by ;, so `import` reads it back)."""
    with state.engine("subscribers export").connect() as conn:
        if file is None:
            subscribers.export_csv(conn, sys.stdout, status)
            return
        with file.open("w", newline="", encoding="utf-8") as out:
            count = subscribers.export_csv(conn, out, status)
    console.print(f"Wrote {count} subscriber(s) to {file}.")


@subscribers_app.command("export-data")
def export_data(email: str = typer.Argument(..., help="The person's address.")) -> None:
    """Print, as JSON, everything stored about an address: subscriber, suppression, deliveries, events."""
    with state.engine("subscribers export-data").begin() as conn:
        data = subscribers.export_data(conn, email)
        audit(conn, ACTOR, "subscriber.export-data",
              f"subscriber:{data['subscriber']['id']}" if data["subscriber"] else "subscriber:none")
    print_json(data)


@subscribers_app.command("forget")
def forget(
    email: str = typer.Argument(..., help="The person's address."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Erase a person's data: delete the subscriber and their clicks and feedback, strip the address elsewhere.

    The address stays in the suppression list only if it bounced or complained, so that
    Curator never mails it again; an unsubscribe suppression is deleted with the rest.
    """
    from curator import store
    from curator.deliver.outbox import forget_files

    if not yes:
        typer.confirm(f"Erase everything stored about {email}?", abort=True)
    engine = state.engine("subscribers forget")
    with engine.begin() as conn, store.secure_delete(conn):
        done = subscribers.forget(conn, email)
        # The audit log names the subscriber by id only: it must not keep the address.
        audit(conn, ACTOR, "subscriber.forget", f"subscriber:{done['subscriber_id'] or 'none'}",
              f"ledger rows {done['deliveries_anonymized']}, events {done['events_anonymized']}, "
              f"clicks {done['clicks_deleted']}, feedback {done['feedback_deleted']}, "
              f"suppression {done['suppression']}")
    console.print(
        f"Forgot {done['email']}: subscriber {'deleted' if done['subscriber_deleted'] else 'not found'}, "
        f"{done['deliveries_anonymized']} ledger row(s) and {done['events_anonymized']} event(s) anonymized, "
        f"{done['clicks_deleted']} click(s) and {done['feedback_deleted']} feedback vote(s) deleted, "
        f"suppression {done['suppression']}.",
        highlight=False, soft_wrap=True,
    )
    files = forget_files(state.settings(), done["email"])
    if files:
        console.print(f"Deleted {files} outbox file(s) addressed to them in {state.settings().outbox_dir}.")
    if not store.checkpoint(engine):  # until then the erased rows are still in SQLite's -wal file
        console.print("[yellow]warning:[/] another process is reading the database, so its write-ahead log (-wal "
                      "file) still holds the erased rows; run this command again once it stopped, or when idle.")
