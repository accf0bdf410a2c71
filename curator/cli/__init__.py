"""The command line: `curator VERB`. Each module here is a group of verbs.

A verb's module is imported when the verb runs (see VERB_MODULES in _app): importing this
package loads none of them.
"""

from __future__ import annotations

import sys

from curator.cli._app import app, console_err
from curator.errors import CuratorError


def main() -> None:
    """Run the CLI; a CuratorError is printed as one readable message, exit code 2.

    Click's standalone mode handles usage errors, --help and typer.Exit codes itself.
    """
    try:
        app()
    except CuratorError as exc:
        console_err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
