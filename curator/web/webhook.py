"""POST /webhooks/sendgrid: SendGrid's Event Webhook, signed with the account's ECDSA key.

Nothing is taken without a key (or the explicit unsigned opt-in for local testing); the body
is read only up to CURATOR_WEBHOOK_MAX_BYTES; a stale signature is a replay. Every refusal is
a 4xx or 503 with a JSON error saying what to fix, never a 500.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from curator import events
from curator.deliver import ledger

log = logging.getLogger("curator.web.webhook")
router = APIRouter()


class TooLarge(Exception):
    """The body passed the cap while it streamed in."""


@router.post("/webhooks/sendgrid")
async def sendgrid_events(request: Request) -> JSONResponse:
    """Verify, parse, store and apply one post of events; SendGrid retries anything but a 2xx."""
    settings = request.app.state.settings
    if (problem := events.refusal(settings)) is not None:
        log.warning("refused an event webhook post: the webhook is not configured")
        return _error(problem, 503)
    try:
        payload = await _body(request, settings.webhook_max_bytes)
    except TooLarge:
        return _error(f"the post is larger than CURATOR_WEBHOOK_MAX_BYTES ({settings.webhook_max_bytes} bytes)", 413)
    signature = request.headers.get(events.SIGNATURE_HEADER)
    timestamp = request.headers.get(events.TIMESTAMP_HEADER)
    if (problem := events.verify(settings, payload, signature, timestamp)) is not None:
        log.warning("refused an event webhook post: %s", problem)
        return _error(
            f"{problem}: the post is not signed by the key in CURATOR_SENDGRID_WEBHOOK_PUBLIC_KEY", 401
        )
    try:
        batch = events.parse(payload)
    except events.BadEvents as exc:
        return _error(str(exc), 400)
    applied = await run_in_threadpool(_apply, request.app.state.engine, batch, settings)
    return JSONResponse(
        {"received": applied.received, "new": applied.new, "duplicates": applied.duplicates}, status_code=200
    )


async def _body(request: Request, cap: int) -> bytes:
    """The body, or TooLarge as soon as it (or its declared length) passes `cap`: never more in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


# SQLite has one writer: posts in flight together queue on this lock, handed over at once,
# rather than in SQLite's busy handler, which sleeps up to 100 ms between tries.
_SQLITE_WRITER = threading.Lock()


def _apply(engine, batch, settings) -> events.Applied:
    with _SQLITE_WRITER if engine.dialect.name == "sqlite" else contextlib.nullcontext(), engine.begin() as conn:
        applied = events.apply(
            conn, batch, click_machine_seconds=settings.click_machine_seconds,
            scanner_networks=tuple(settings.click_scanner_networks),
        )
        # Delivery settles the batches the new events name: SendGrid took them.
        applied.confirmed_rows = ledger.confirm_batches(conn, applied.batch_keys)
        return applied
