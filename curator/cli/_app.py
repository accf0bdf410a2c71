"""The Typer app, its global options, and what every verb shares."""

from __future__ import annotations

import getpass
import importlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import typer
import typer.core
from rich.console import Console
from sqlalchemy import Engine

from curator import store
from curator.config import Settings, load_settings

# The module of each verb (a command, or a group of them), imported only when that verb runs or
# --help lists it: a `curator worker` never loads the curation stack (numpy, the embedding model)
# that `curator draft` needs, nor the web app, and stays small. tests/test_packaging.py checks
# that this table names every verb the modules register.
VERB_MODULES = {
    "approve": "editorial", "cancel": "send", "config": "config_cmd", "db": "db", "demo": "demo",
    "draft": "editorial", "feeds": "ingest", "ingest": "ingest", "items": "ingest", "pause": "send",
    "pick": "editorial", "picks": "editorial", "report": "report", "resume": "send", "retry": "send",
    "schedule": "schedule", "send": "send", "serve": "serve", "status": "send", "subscribers": "subscribers",
    "users": "users", "worker": "send",
}  # fmt: skip


class _LazyVerbs(typer.core.TyperGroup):
    """The top-level group: a verb's module is imported the first time the verb is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every verb (--help): all modules, db first, then by name, so verbs keep their order."""
        for module in ["db", *sorted(set(VERB_MODULES.values()) - {"db"})]:
            self._load(module)
        return list(typer.main.get_command(app).commands)  # Typer's order: commands, then groups

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in VERB_MODULES:
            self._load(VERB_MODULES[cmd_name])
        return self.commands.get(cmd_name)

    def _load(self, module: str) -> None:
        importlib.import_module(f"{__package__}.{module}")  # its decorators register its verbs on `app`
        for name, command in typer.main.get_command(app).commands.items():
            self.commands.setdefault(name, command)


app = typer.Typer(
    cls=_LazyVerbs,
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
