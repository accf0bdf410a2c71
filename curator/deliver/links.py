"""The https rule for the links in every newsletter, enforced where every send passes: delivery.

List-Unsubscribe must be an https URL (RFC 8058; Gmail and Yahoo ignore or penalise others),
and every link in the email starts with CURATOR_BASE_URL. A real SendGrid send with an http
BASE_URL is refused, whoever starts it (console, scheduler, worker, CLI), and the refusal is
recorded as an alert in the ops console. The outbox and the sandbox send nothing to anyone,
so for them it is only a warning.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from curator.config import Settings
from curator.errors import SendRefused

log = logging.getLogger("curator.deliver")
ALERT_KIND = "send_refused"


def insecure_links(settings: Settings) -> str | None:
    """What is wrong with the links a send would carry, or None."""
    if settings.base_url.lower().startswith("https://"):
        return None
    return (
        f"CURATOR_BASE_URL is {settings.base_url}: the unsubscribe links of a real send must be https "
        "(RFC 8058, and Gmail and Yahoo require it); set it to the web app's public https address"
    )


def require_secure_links(settings: Settings, engine: Engine, backend: str, *, actor: str = "delivery") -> None:
    """Refuse (SendRefused, and an alert for ops) a real send whose links are not https; warn for the others."""
    problem = insecure_links(settings)
    if problem is None:
        return
    if backend != "sendgrid":
        log.warning("%s (a warning only: the %s backend mails nobody)", problem, backend)
        return
    _alert_once(settings, engine, problem, actor)
    raise SendRefused(f"nothing was sent: {problem}")


def _alert_once(settings: Settings, engine: Engine, problem: str, actor: str) -> None:
    """One open alert for it, not one per worker pass: ops acknowledge it once they fixed the setting."""
    from curator import alerts

    with engine.connect() as conn:
        if any(a["kind"] == ALERT_KIND for a in alerts.list_alerts(conn, open_only=True, limit=200)):
            return
    alerts.raise_alert(settings, engine, ALERT_KIND, f"A send was refused: {problem}.", actor=actor)
