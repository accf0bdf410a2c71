"""The web pages' Jinja2 environment (autoescape, StrictUndefined) and `render`, which every page uses."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from curator import richtext
from curator.config import resource_path
from curator.curate import explain
from curator.web import headers, session


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(resource_path("templates") / "web"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["explain"] = explain
    env.filters["when"] = _when
    env.filters["month"] = _month
    env.globals["csp_nonce"] = headers.csp_nonce
    env.filters["markdown"] = richtext.to_html
    return env


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "—"


def _month(period: str) -> str:
    """2026-12 -> December 2026."""
    return datetime.strptime(period, "%Y-%m").strftime("%B %Y")


def render(request: Request, name: str, status_code: int = 200, **context: object) -> HTMLResponse:
    """A page from templates/web; base.html gets the visitor, their CSRF token and flash messages."""
    context = {
        "request": request,
        "user": getattr(request.state, "user", None),
        "csrf_token": session.csrf_token(request),
        "flashes": session.take_flashes(request),
        "settings": session.settings_of(request),
        **context,
    }
    html = environment().get_template(name).render(context)
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return session.finish(request, response)
