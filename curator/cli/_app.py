"""The Typer app, its global options, and what every verb shares."""

from __future__ import annotations

import getpass
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from sqlalchemy import Engine

from curator import store
from curator.config import Settings, load_settings

app = typer.Typer(
    name="curator",
    help="Curator: a monthly newsletter of growth resources, from feeds to inboxes.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: the rich mode tags every flag with its type
    pretty_exceptions_enable=False,
)
# Piped output is read by people too (logs, `| less`): give tables room instead of Rich's 80 columns.
_PIPED_WIDTH = 240
console = Console(width=None if sys.stdout.isatty() else _PIPED_WIDTH)
console_err = Console(stderr=True, width=None if sys.stderr.isatty() else _PIPED_WIDTH)


@dataclass
class State:
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None
    _engine: Engine | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(**self.overrides)
        return self._settings

    def engine(self, command: str) -> Engine:
        """The database engine, refused when it is not at the newest migration."""
        if self._engine is None:
            self._engine = store.open_db(self.settings().database_url, command_name=command)
        return self._engine


state = State()


@app.callback()
def _global(
    database_url: str = typer.Option(
        None, "--database-url", help="Database URL (overrides CURATOR_DATABASE_URL).",
        show_default=False,
    ),
    feeds: Path = typer.Option(
        None, "--feeds", help="Path of feeds.yaml (overrides CURATOR_FEEDS).", show_default=False
    ),
) -> None:
    """Curator: a monthly newsletter of growth resources, from feeds to inboxes."""
    state.overrides = {"database_url": database_url, "feeds": feeds}
    state._settings = None
    if state._engine is not None:  # a previous invocation in this process (tests, scripts)
        state._engine.dispose()
    state._engine = None


PERIOD_HELP = "The issue's month, YYYY-MM."


def actor() -> str:
    """Who the audit log names for a command-line action."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def print_json(data: Any) -> None:
    """Machine output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False) + "\n")
