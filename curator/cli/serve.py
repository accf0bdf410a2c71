"""`curator serve`: the web app (editors' desk, ops console, public pages) with uvicorn."""

from __future__ import annotations

import typer

from curator.cli._app import app, console, state


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
    console.print(
        f"Curator is serving on http://{host}:{port}: the editors' desk is at http://{host}:{port}/desk "
        f"(public URL {settings.base_url}). Ctrl-C stops it."
    )
    # proxy_headers off: the app reads X-Forwarded-For itself, from CURATOR_TRUSTED_PROXIES only (web/clientip.py).
    uvicorn.run(web, host=host, port=port, proxy_headers=False, log_level="info", ws="none")
