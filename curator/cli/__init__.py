"""The command line: `curator VERB`. Each module here is a group of verbs."""

from __future__ import annotations

import sys

from curator.cli._app import app, console_err
from curator.errors import CuratorError

# Importing a verb module registers its commands on `app`.
from curator.cli import db as _db  # noqa: F401,E402  isort: skip


def _register() -> None:
    import importlib
    import pkgutil

    import curator.cli as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"curator.cli.{info.name}")


_register()


def main() -> None:
    """Run the CLI; a CuratorError is printed as one readable message, exit code 2.

    Click's standalone mode handles usage errors, --help and typer.Exit codes itself.
    """
    try:
        app()
    except CuratorError as exc:
        console_err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
