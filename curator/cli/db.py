"""`curator db`: create, upgrade and inspect the database."""

from __future__ import annotations

import typer

from curator import store
from curator.cli._app import app, console, state
from curator.config import mask_url

db_app = typer.Typer(help="Create, upgrade and inspect the database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade() -> None:
    """Create the database, or upgrade it to the newest schema."""
    url = state.settings().database_url
    engine = store.make_engine(url)
    try:
        before, after = store.upgrade(engine)
    finally:
        engine.dispose()
    where = mask_url(url)
    if before == after:
        console.print(f"The database {where} is current (revision {after}).")
    else:
        console.print(f"Upgraded the database {where} from {before or 'empty'} to revision {after}.")


@db_app.command("current")
def current() -> None:
    """Show the database's revision and the newest one."""
    engine = store.make_engine(state.settings().database_url)
    console.print(f"database: {store.current_revision(engine) or 'empty'}")
    console.print(f"newest:   {store.head_revision()}")
