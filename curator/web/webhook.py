"""POST /webhooks/sendgrid: SendGrid's Event Webhook, signed with the account's ECDSA key."""

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


@router.post("/webhooks/sendgrid")
async def sendgrid_events(request: Request) -> JSONResponse:
    """Verify, parse, store and apply one post of events; SendGrid retries anything but a 2xx."""
    settings = request.app.state.settings
    payload = await request.body()
    signature = request.headers.get(events.SIGNATURE_HEADER)
    timestamp = request.headers.get(events.TIMESTAMP_HEADER)
    if not events.verify(settings, payload, signature, timestamp):
        log.warning("refused an event webhook post: %s", "bad signature" if signature else "unsigned")
        return JSONResponse(
            {"error": "the event webhook signature is missing or does not match CURATOR_SENDGRID_WEBHOOK_PUBLIC_KEY"},
            status_code=401,
        )
    try:
        batch = events.parse(payload)
    except events.BadEvents as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    applied = await run_in_threadpool(_apply, request.app.state.engine, batch)
    return JSONResponse(
        {"received": applied.received, "new": applied.new, "duplicates": applied.duplicates}, status_code=200
    )


# SQLite has one writer: posts in flight together queue on this lock, handed over at once,
# rather than in SQLite's busy handler, which sleeps up to 100 ms between tries.
_SQLITE_WRITER = threading.Lock()


def _apply(engine, batch) -> events.Applied:
    with _SQLITE_WRITER if engine.dialect.name == "sqlite" else contextlib.nullcontext(), engine.begin() as conn:
        applied = events.apply(conn, batch)
        # Delivery settles the batches the new events name: SendGrid took them.
        applied.confirmed_rows = ledger.confirm_batches(conn, applied.batch_keys)
        return applied
