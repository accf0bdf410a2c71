"""`curator serve`: the web app (editors' desk, ops console, public pages) with uvicorn."""

from __future__ import annotations

import errno
import ipaddress
import socket
from urllib.parse import urlsplit

import typer

from curator.cli._app import app, console, console_err, state
from curator.config import Settings
from curator.errors import ConfigError


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
) -> None:
    """Run the web app until interrupted."""
    import uvicorn

    from curator.web.app import create_app

    settings = state.settings()
    settings.require("secret_key", command="serve")
    engine = state.engine("serve")  # refuses a database that is missing or out of date, before listening
    web = create_app(settings, engine=engine)
    _check_port(host, port)
    for warning in warnings(settings, port):
        console_err.print(f"[bold red]warning:[/] {warning}", highlight=False, soft_wrap=True)
    console.print(
        f"Curator is serving on http://{host}:{port}: the editors' desk is at http://{host}:{port}/desk "
        f"(public URL {settings.base_url}). Ctrl-C stops it."
    )
    # proxy_headers off: the app reads X-Forwarded-For itself, from CURATOR_TRUSTED_PROXIES only (web/clientip.py).
    uvicorn.run(web, host=host, port=port, proxy_headers=False, log_level="info", ws="none")


def warnings(settings: Settings, port: int) -> list[str]:
    """What an operator should hear before the server starts: forgeable webhooks, links that miss it."""
    found = []
    if settings.webhook_allow_unsigned and not settings.sendgrid_webhook_public_key:
        found.append(
            "CURATOR_WEBHOOK_ALLOW_UNSIGNED=true: /webhooks/sendgrid takes UNSIGNED posts, so anyone who can reach "
            "it can mark any address bounced or complained and settle uncertain batches. Use it for local testing "
            "only; in production set CURATOR_SENDGRID_WEBHOOK_PUBLIC_KEY and remove it."
        )
    base = urlsplit(settings.base_url)
    expected = base.port or (443 if base.scheme == "https" else 80)
    if _local(base.hostname or "") and expected != port:
        found.append(
            f"CURATOR_BASE_URL is {settings.base_url} but this server listens on port {port}: the links in emails "
            f"and on pages will not reach it. Use --port {expected}, or set CURATOR_BASE_URL to match."
        )
    return found


def _local(host: str) -> bool:
    """A BASE_URL host on this machine: no proxy in between, so its port must be ours."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port(host: str, port: int) -> None:
    """Refuse a port already taken, in words, before uvicorn fails on it with a raw errno."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is already in use (another `curator serve`?): stop that program, "
                    f"or choose another port with --port {port + 1}"
                ) from None
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}; check --host and --port") from None
