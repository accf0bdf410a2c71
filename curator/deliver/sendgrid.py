"""The SendGrid backend: one Mail Send request per batch, through the official library.

A batch's body is written as JSON text directly (`batch_json`: the library's Mail helpers,
and even plain dicts through json.dumps, cost more than the rest of a batch) and posted with
the library's own low-level call, `client.client.mail.send.post(request_body=...)`.
SendGrid substitutes the body and the subject, never headers: each personalization carries
its own literal List-Unsubscribe.
The sandbox backend is the same request with mail_settings.sandbox_mode on.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
from json.encoder import encode_basestring_ascii as _json_string  # json.dumps' own (C) string encoder
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from curator.config import Settings
from curator.deliver.backends import (
    LIST_UNSUBSCRIBE_POST,
    BatchMessage,
    BatchResult,
    Outcome,
    Recipient,
    SingleMessage,
)
from curator.subscribers import ascii_address

MAX_BODY_BYTES = 30_000_000  # SendGrid refuses a request of 30 MB or more (413)
MAX_ARGS_BYTES = 10_000  # custom_args, and substitutions, of one personalization
# The library json.dumps a body unless the Content-Type is another one; then it posts the text as
# it is. The text is ASCII (non-ASCII characters are escaped, as json.dumps does).
JSON_TEXT = {"Content-Type": "application/json; charset=utf-8"}


class SendGridBackend:
    """Posts batches to SendGrid (or to any server at settings.sendgrid_host)."""

    def __init__(self, settings: Settings, *, sandbox: bool = False) -> None:
        settings.require("sendgrid_api_key", command="send")
        self.name = "sandbox" if sandbox else "sendgrid"
        self.sandbox = sandbox
        self.settings = settings
        self._client = SendGridAPIClient(settings.sendgrid_api_key, host=settings.sendgrid_host)
        # The library has no timeout of its own: without one a silent server hangs the worker.
        self._client.client.timeout = settings.sendgrid_timeout

    def send_batch(self, message: BatchMessage) -> BatchResult:
        return self.post(batch_json(self.settings, message, sandbox=self.sandbox))

    def send_one(self, message: SingleMessage) -> BatchResult:
        return self.post(single_body(self.settings, message, sandbox=self.sandbox))

    def post(self, body: dict[str, Any] | str) -> BatchResult:
        """Post one Mail Send body (a dict, or its JSON text); every answer (and no answer) becomes an Outcome."""
        text = _Payload(body if isinstance(body, str) else json.dumps(body))
        try:
            response = self._client.client.mail.send.post(request_body=text, request_headers=JSON_TEXT)
        except HTTPError as exc:
            return _from_http_error(exc)
        except urllib.error.URLError as exc:
            # The connection was never made: SendGrid cannot have taken the message.
            if isinstance(exc.reason, ConnectionRefusedError | socket.gaierror):
                return BatchResult(Outcome.RETRY, error=f"cannot reach SendGrid: {exc.reason}")
            return BatchResult(Outcome.UNCERTAIN, error=f"no answer from SendGrid: {exc.reason}")
        except (http.client.HTTPException, OSError) as exc:
            # Sent, then the connection dropped or timed out: it may have been accepted.
            return BatchResult(Outcome.UNCERTAIN, error=f"no answer from SendGrid: {exc!r}")
        return BatchResult(
            Outcome.ACCEPTED, status=response.status_code, message_id=response.headers.get("X-Message-Id")
        )

    def close(self) -> None:
        pass  # urllib opens and closes a connection per request


class _Payload(str):
    """A request body whose bytes do not print themselves.

    The library formats every request's payload into a debug message, whether or not debug
    logging is on (`'PAYLOAD: {data}'.format(data=request.data)`): for a batch, the repr of
    600 kB on each request (about 2.5 ms, measured alone), and with debug logging on,
    every recipient's address in the log. It encodes the str it is given, so this str encodes
    to bytes whose str() is their size.
    """

    __slots__ = ()

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return _PayloadBytes(str.encode(self, encoding, errors))


class _PayloadBytes(bytes):
    __slots__ = ()

    def __str__(self) -> str:
        return f"<{len(self):,} bytes of JSON>"

    __repr__ = __str__


def envelope(settings: Settings, subject: str, html: str, text: str, *, sandbox: bool = False) -> dict[str, Any]:
    """What every request has: sender, subject, the two parts (text first, as SendGrid wants)."""
    sender = {"email": settings.from_email, "name": settings.from_name} if settings.from_name else {
        "email": settings.from_email
    }
    content = [{"type": "text/plain", "value": text}, {"type": "text/html", "value": html}]
    body: dict[str, Any] = {"from": sender, "subject": subject, "content": content}
    if settings.reply_to:
        body["reply_to"] = {"email": settings.reply_to}
    if sandbox:
        body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return body


def batch_body(settings: Settings, message: BatchMessage, *, sandbox: bool = False) -> dict[str, Any]:
    """The Mail Send body of a batch: one personalization per recipient, the batch key in custom_args."""
    body = envelope(settings, message.body.subject, message.body.html, message.body.text, sandbox=sandbox)
    body["personalizations"] = [_personalization(r) for r in message.recipients]
    body["custom_args"] = {"issue": message.issue, "batch": message.batch_key}
    return body


def batch_json(settings: Settings, message: BatchMessage, *, sandbox: bool = False) -> str:
    """batch_body as the JSON text posted: the same document (tested), in about 60% of the time.

    The envelope is encoded once by json.dumps; each personalization is one format string over
    values encoded by json.dumps' own string encoder (ASCII, escaped exactly as it escapes them).
    """
    head = envelope(settings, message.body.subject, message.body.html, message.body.text, sandbox=sandbox)
    head["custom_args"] = {"issue": message.issue, "batch": message.batch_key}
    keys: dict[str, str] = {}  # substitution tags, encoded once per batch
    parts = []
    for r in message.recipients:
        email = _json_string(ascii_address(r.email))
        to = f'{{"email": {email}, "name": {_json_string(r.name)}}}' if r.name else f'{{"email": {email}}}'
        values = ", ".join(
            f"{keys.get(k) or keys.setdefault(k, _json_string(k))}: {_json_string(v)}" for k, v in r.values.items()
        )
        parts.append(
            f'{{"to": [{to}], "substitutions": {{{values}}}, "headers": {{"List-Unsubscribe": '
            f'{_json_string(f"<{r.unsubscribe_url}>")}, "List-Unsubscribe-Post": {_UNSUBSCRIBE_POST}}}, '
            f'"custom_args": {{"delivery": "{int(r.delivery_id)}"}}}}'
        )
    return f'{json.dumps(head)[:-1]}, "personalizations": [{", ".join(parts)}]}}'


_UNSUBSCRIBE_POST = _json_string(LIST_UNSUBSCRIBE_POST)


def single_body(settings: Settings, message: SingleMessage, *, sandbox: bool = False) -> dict[str, Any]:
    body = envelope(settings, message.subject, message.html, message.text, sandbox=sandbox)
    personalization: dict[str, Any] = {"to": [{"email": ascii_address(message.to)}]}
    if message.headers:
        personalization["headers"] = dict(message.headers)
    body["personalizations"] = [personalization]
    return body


def _personalization(recipient: Recipient) -> dict[str, Any]:
    email = ascii_address(recipient.email)
    to = {"email": email, "name": recipient.name} if recipient.name else {"email": email}
    return {
        "to": [to],
        "substitutions": recipient.values,
        "headers": {
            "List-Unsubscribe": f"<{recipient.unsubscribe_url}>",
            "List-Unsubscribe-Post": LIST_UNSUBSCRIBE_POST,
        },
        "custom_args": {"delivery": str(recipient.delivery_id)},
    }


def _from_http_error(exc: HTTPError) -> BatchResult:
    status = int(exc.status_code)
    error = f"SendGrid answered {status}: {_error_text(exc.body)}"
    if status == 400:
        return BatchResult(Outcome.REJECTED, status=status, error=error)
    if status in (401, 403):
        return BatchResult(Outcome.UNAUTHORIZED, status=status, error=error)
    if status == 413:
        return BatchResult(Outcome.TOO_LARGE, status=status, error=error)
    if status == 429:
        return BatchResult(Outcome.RATE_LIMITED, status=status, error=error, retry_at=_reset_at(exc.headers))
    if status >= 500:
        return BatchResult(Outcome.RETRY, status=status, error=error)
    # Any other 4xx is a request SendGrid will never take as it is: permanent for these rows.
    return BatchResult(Outcome.REJECTED, status=status, error=error)


def _reset_at(headers: Any) -> float:
    """When a 429 says sending may start again (epoch seconds); a second from now if it does not say."""
    try:
        return float(headers.get("X-RateLimit-Reset"))
    except (AttributeError, TypeError, ValueError):
        return time.time() + 1.0


def _error_text(raw: bytes | str | None) -> str:
    """SendGrid's errors as one line: "message (field); message (field)"."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        errors = json.loads(raw or "")["errors"]
        parts = [e.get("message", "") + (f" ({e['field']})" if e.get("field") else "") for e in errors]
        return "; ".join(p for p in parts if p) or (raw or "no detail")
    except (ValueError, KeyError, TypeError, AttributeError):
        return (raw or "no detail").strip()[:2000]
