"""A SendGrid-compatible Mail Send server on loopback, for tests, benchmarks and developers.

    with SendGridServer() as sg:
        SendGridAPIClient("SG.test", host=sg.url).send(mail)
        assert sg.recipients() == ["ada@example.com"]

It checks each request as SendGrid does (`sendgrid_rules`), records what it accepts, and
injects the failures a sender must survive: random ones (`Faults`), or an exact sequence
(`script`). Standalone, `python -m curator.testing.sendgrid_server --port 8025` keeps only
counts, reported by `GET /_stats` and cleared by `POST /_reset`.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import json
import logging
import math
import random
import secrets
import signal
import socket
import socketserver
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from curator.testing import sendgrid_rules as rules

log = logging.getLogger(__name__)

SEND_PATH = "/v3/mail/send"
KINDS = ("429", "500", "503", "slow", "lost", "413")
FORBIDDEN_KEY_PREFIX = "SG.forbidden"  # a key with this prefix is known but not allowed to send
ERROR_MESSAGES = {  # the messages of SendGrid's own OpenAPI description
    401: "authorization required",
    403: "access forbidden",
    404: "not found",
    405: "method not allowed",
    411: "length required",
    413: "content too large",
    429: "too many requests",
    500: "internal server error",
    503: "service unavailable",
}


@dataclass(frozen=True)
class Faults:
    """Failures to inject; the same seed gives the same sequence of answers."""

    fail_rate: float = 0.0  # fraction of requests answered with a random one of `kinds`
    kinds: tuple[str, ...] = ("429", "500", "503")  # any of KINDS
    seed: int = 0
    slow_s: float = 1.0  # a "slow" answer waits this long, then answers normally
    reset_after_s: float = 1.0  # a 429's X-RateLimit-Reset is this far ahead
    max_body_bytes: int | None = None  # 413 above this (SendGrid's own 30 MB limit also holds)
    rate_limit_per_s: int | None = None  # 429 beyond this many requests in a second

    def __post_init__(self) -> None:
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError(f"fail_rate must be between 0 and 1, not {self.fail_rate}")
        if unknown := set(self.kinds) - set(KINDS):
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; choose from {KINDS}")
        if self.fail_rate and not self.kinds:
            raise ValueError("fail_rate needs at least one fault kind")


@dataclass(frozen=True)
class Accepted:
    """One message the server took, as SendGrid would have queued it."""

    message_id: str
    body: dict[str, Any]
    recipients: list[str]  # to, cc and bcc of every personalization, in order
    custom_args: list[dict[str, Any]]  # message-level merged into each personalization's
    received_at: datetime


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    lost: bool = False  # close the connection instead of answering

    @property
    def label(self) -> str:
        return "lost" if self.lost else str(self.status)


def error_reply(status: int, *errors: rules.FieldError, **headers: str) -> Reply:
    errors = errors or (rules.FieldError(ERROR_MESSAGES[status]),)
    body = json.dumps({"errors": [e.as_json() for e in errors]}).encode()
    return Reply(status, {"Content-Type": "application/json", **headers}, body)


class SendGridServer:
    """A thread serving SendGrid's Mail Send on 127.0.0.1; a context manager."""

    def __init__(
        self,
        *,
        validate: bool = True,
        schema_path: Path | None = None,
        api_key: str | None = "SG.test",  # None accepts any key
        faults: Faults | None = None,
        record_bodies: bool = True,  # False keeps only counts, for long benchmarks
        host: str = "127.0.0.1",
        port: int = 0,  # 0 picks a free port
    ) -> None:
        self.validate = validate
        self.api_key = api_key
        self.record_bodies = record_bodies
        self._validator = rules.load_validator(schema_path) if validate else None
        self._address = (host, port)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._faults = faults or Faults()
        self.reset()

    # -- lifecycle

    def start(self) -> SendGridServer:
        if self._httpd is not None:
            raise RuntimeError("the SendGrid test server is already running")
        self._stopping.clear()
        self._httpd = _HTTPServer(self._address, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-sendgrid:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake slow answers, close every connection and join every thread."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections()  # idle keep-alive connections would hold their threads
        httpd.server_close()  # joins the handler threads
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> SendGridServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the SendGrid test server is not running; call start()")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    # -- faults

    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)
            self._window = (0, 0)  # (second, requests in it) for rate_limit_per_s

    def set_faults(self, faults: Faults | None = None, **changes: Any) -> None:
        """Replace the faults, or change some fields of the current ones."""
        self.faults = dataclasses.replace(faults or self.faults, **changes)

    def script(self, answers: Iterable[str | int]) -> None:
        """Answer the next requests in this order: a fault kind, or "202" to answer normally."""
        queued = [str(a) for a in answers]
        if unknown := set(queued) - {*KINDS, "202"}:
            raise ValueError(f"cannot script {sorted(unknown)}; use {KINDS} or '202'")
        with self._lock:
            self._script.extend(queued)

    # -- what was received

    @property
    def accepted(self) -> list[Accepted]:
        with self._lock:
            return list(self._accepted)

    def recipients(self) -> list[str]:
        """Every recipient of every accepted message, once per time it was accepted.

        Without record_bodies the addresses come back lower-cased and in no particular order.
        """
        with self._lock:
            if self.record_bodies:
                return [r for a in self._accepted for r in a.recipients]
            return [address for address, _issue in self._deliveries.elements()]

    def duplicates(self) -> dict[tuple[str, str | None], int]:
        """(address, custom_args["issue"]) accepted more than once, with how many times."""
        with self._lock:
            return {key: n for key, n in self._deliveries.items() if n > 1}

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._requests,
                "accepted_requests": self._accepted_requests,
                "recipients": self._deliveries.total(),
                "duplicates": sum(n - 1 for n in self._deliveries.values() if n > 1),
                "status_counts": dict(self._status_counts),
            }

    def reset(self) -> None:
        """Forget every request, record and scripted answer; restart the fault sequence."""
        self.faults = self._faults
        with self._lock:
            self._accepted: list[Accepted] = []
            self._deliveries: collections.Counter[tuple[str, str | None]] = collections.Counter()
            self._script: collections.deque[str] = collections.deque()
            self._status_counts: collections.Counter[str] = collections.Counter()
            self._requests = self._accepted_requests = 0

    # -- answering POST /v3/mail/send

    def body_limit(self) -> int:
        """The largest body answered with anything but 413."""
        limits = [rules.MAX_BODY_BYTES - 1, self.faults.max_body_bytes]
        return min(limit for limit in limits if limit is not None)

    def handle_send(self, authorization: str | None, raw: bytes | None) -> Reply:
        """The answer to one Mail Send request; raw is None when the body was over the limit."""
        reply = self._answer(authorization, raw)
        with self._lock:
            self._requests += 1
            self._status_counts[reply.label] += 1
        return reply

    def _answer(self, authorization: str | None, raw: bytes | None) -> Reply:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            return error_reply(401)
        if key.startswith(FORBIDDEN_KEY_PREFIX):
            return error_reply(403)
        if self.api_key is not None and key != self.api_key:
            return error_reply(401)
        if raw is None:
            return error_reply(413)
        fault = self._next_fault()
        if fault in ("429", "500", "503", "413"):
            return self._too_many() if fault == "429" else error_reply(int(fault))
        if fault == "slow":
            self._stopping.wait(self.faults.slow_s)
        if self._over_rate_limit():
            return self._too_many(reset_at=math.floor(time.time()) + 1)
        reply = self._process(raw)
        return dataclasses.replace(reply, lost=True) if fault == "lost" else reply

    def _next_fault(self) -> str | None:
        with self._lock:
            if self._script:
                answer = self._script.popleft()
                return None if answer == "202" else answer
            faults = self._faults
            if faults.fail_rate and self._rng.random() < faults.fail_rate:
                return self._rng.choice(faults.kinds)
            return None

    def _over_rate_limit(self) -> bool:
        limit = self.faults.rate_limit_per_s
        if limit is None:
            return False
        second = math.floor(time.time())
        with self._lock:
            seen = self._window[1] if self._window[0] == second else 0
            self._window = (second, seen + 1)
            return seen >= limit

    def _too_many(self, reset_at: int | None = None) -> Reply:
        if reset_at is None:
            reset_at = math.ceil(time.time() + self.faults.reset_after_s)
        return error_reply(
            429,
            **{
                "X-RateLimit-Limit": str(self.faults.rate_limit_per_s or 600),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(reset_at),
            },
        )

    def _process(self, raw: bytes) -> Reply:
        try:
            body = json.loads(raw)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            return error_reply(400, rules.FieldError(f"The request body is not valid JSON: {exc}"))
        if self.validate:
            errors = rules.check_body(body, self._validator, time.time())
        elif not isinstance(body, dict):
            errors = [rules.FieldError("The request body must be a JSON object.")]
        else:
            errors = []
        if errors:
            return error_reply(400, *errors)
        if _sandboxed(body):
            return Reply(200)
        return Reply(202, {"X-Message-Id": self._record(body)})

    def _record(self, body: dict[str, Any]) -> str:
        message_id = secrets.token_urlsafe(16)  # 22 characters, like SendGrid's
        per_personalization = rules.recipients(body)
        custom_args = rules.merged_custom_args(body)
        keys = [
            (address.lower(), issue if isinstance(issue := args.get("issue"), str) else None)
            for addresses, args in zip(per_personalization, custom_args, strict=True)
            for address in addresses
        ]
        with self._lock:
            self._accepted_requests += 1
            self._deliveries.update(keys)
            if self.record_bodies:
                flat = [a for group in per_personalization for a in group]
                now = datetime.now(UTC)
                self._accepted.append(Accepted(message_id, body, flat, custom_args, now))
        return message_id


def _sandboxed(body: dict[str, Any]) -> bool:
    settings = body.get("mail_settings")
    sandbox = settings.get("sandbox_mode") if isinstance(settings, dict) else None
    return isinstance(sandbox, dict) and sandbox.get("enable") is True


class _HTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its connections, so stop() can close them."""

    daemon_threads = True  # still joined by server_close(): block_on_close stays True

    def __init__(self, address: tuple[str, int], app: SendGridServer) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name, which can take seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):  # the client has already gone
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, for benchmark clients that pool connections
    server_version = "curator-fake-sendgrid"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = self._content_length()
        if length is None:
            self.close_connection = True  # the body, if any, cannot be skipped
            self._send(error_reply(411))
        elif path == SEND_PATH:
            raw = self._read_body(length, self.server.app.body_limit())
            self._send(self.server.app.handle_send(self.headers.get("Authorization"), raw))
        else:
            self._read_body(length, limit=0)
            if path == "/_reset":
                self.server.app.reset()
            self._send(Reply(204) if path == "/_reset" else error_reply(404))

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/_stats":
            body = json.dumps(self.server.app.stats()).encode()
            self._send(Reply(200, {"Content-Type": "application/json"}, body))
        else:
            self._send(error_reply(405 if path == SEND_PATH else 404))

    def _content_length(self) -> int | None:
        if "Transfer-Encoding" in self.headers:
            return None  # chunked bodies: no SendGrid client sends them
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        return length if length >= 0 else None

    def _read_body(self, length: int, limit: int) -> bytes | None:
        """The body, or None when it is over the limit (read and dropped)."""
        if length <= limit:
            return self.rfile.read(length)
        # Drain it: a client still sending would see a reset instead of our answer.
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 16))
            length = length - len(chunk) if chunk else 0
        return None

    def _send(self, reply: Reply) -> None:
        if reply.lost:
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m curator.testing.sendgrid_server",
        description="Serve SendGrid's Mail Send on loopback for tests and benchmarks.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    add("--port", type=int, default=0, help="port to bind; 0 picks a free one (printed)")
    add("--no-validate", action="store_true", help="skip the schema and SendGrid's rules")
    add("--schema", type=Path, help="request schema (default: found beside the repository)")
    add("--api-key", default="SG.test", help="key clients must send (default: %(default)s)")
    add("--any-key", action="store_true", help="accept any API key")
    add("--fail-rate", type=float, default=0.0, help="fraction of requests to fail")
    add("--fail-kinds", default="429,500,503", help=f"comma-separated, among {','.join(KINDS)}")
    add("--seed", type=int, default=0, help="seed of the fault sequence")
    add("--slow-seconds", type=float, default=1.0, help="delay of a 'slow' answer")
    add("--reset-after", type=float, default=1.0, help="seconds to a 429's X-RateLimit-Reset")
    add("--max-body-bytes", type=int, help="answer 413 above this many bytes")
    add("--rate-limit", type=int, help="answer 429 beyond this many requests per second")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM, keeping counts only (see GET /_stats)."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        faults = Faults(
            fail_rate=args.fail_rate,
            kinds=tuple(k for k in args.fail_kinds.split(",") if k),
            seed=args.seed,
            slow_s=args.slow_seconds,
            reset_after_s=args.reset_after,
            max_body_bytes=args.max_body_bytes,
            rate_limit_per_s=args.rate_limit,
        )
    except ValueError as exc:
        parser.error(str(exc))
    server = SendGridServer(
        validate=not args.no_validate,
        schema_path=args.schema,
        api_key=None if args.any_key else args.api_key,
        faults=faults,
        record_bodies=False,
        host=args.host,
        port=args.port,
    )
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    with server:
        print(f"SendGrid test server listening on {server.url}", flush=True)
        while not done.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
