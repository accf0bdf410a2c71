"""Where delivery chooses its backend: the outbox, SendGrid or SendGrid's sandbox, by `settings.delivery`."""

from __future__ import annotations

from curator.config import Settings
from curator.deliver.backends import Backend
from curator.errors import ConfigError


def make_backend(settings: Settings) -> Backend:
    """The backend `settings.delivery` names."""
    if settings.delivery == "outbox":
        from curator.deliver.outbox import OutboxBackend

        return OutboxBackend(settings)
    if settings.delivery in ("sendgrid", "sandbox"):
        from curator.deliver.sendgrid import SendGridBackend

        return SendGridBackend(settings, sandbox=settings.delivery == "sandbox")
    raise ConfigError(f"CURATOR_DELIVERY={settings.delivery!r} is not a backend: use outbox, sendgrid or sandbox")
