"""`curator config`: the effective settings, secrets masked."""

from __future__ import annotations

import typer
from rich.table import Table

from curator.cli._app import app, console, print_json, state
from curator.config import Settings, settings_markdown


@app.command("config")
def show_config(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    markdown: bool = typer.Option(False, "--markdown", help="Print every setting's default and meaning (README)."),
) -> None:
    """Print the effective settings (defaults < environment < flags), secrets masked."""
    if markdown:
        print(settings_markdown(), end="")
        return
    values = state.settings().effective()
    if as_json:
        print_json(values)
        return
    table = Table("setting", "value", "meaning")
    for name, value in values.items():
        info = Settings.model_fields[name]
        table.add_row(f"CURATOR_{name.upper()}", value, info.description or "")
    console.print(table)
