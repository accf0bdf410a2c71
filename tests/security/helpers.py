"""What the security tests share: the CLI run in-process or as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

from typer.testing import CliRunner

from tests.conftest import REPO


def cli(*args: str, env: dict[str, str] | None = None):
    """`curator ARGS` through Typer's runner, the environment given on top of the test's own."""
    from curator.cli import app
    from curator.cli._app import state

    try:
        return CliRunner().invoke(app, list(args), env=env or {})
    finally:
        state._settings = None


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python -m curator ARGS` as a real process: what an operator's shell sees (exit code, stderr)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CURATOR_") and k != "SENDGRID_API_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "curator", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO,
        env={**base, "COLUMNS": "200", **(env or {})},
    )
