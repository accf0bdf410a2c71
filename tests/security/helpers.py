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


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port: int, env: dict[str, str], *extra: str) -> tuple[str, str]:
    """Run `curator serve` for real until it answers /healthz (or exits); returns its (stdout, stderr)."""
    import time

    import httpx

    base = {k: v for k, v in os.environ.items() if not k.startswith("CURATOR_") and k != "SENDGRID_API_KEY"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "curator", "serve", "--port", str(port), *extra], cwd=REPO, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**base, "COLUMNS": "200", **env},
    )
    try:
        deadline = time.monotonic() + 60  # a wait for start-up, not an assertion on its speed
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz?scope=web", timeout=2).status_code:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.terminate()
        out, err = proc.communicate(timeout=30)
    return out, err
