"""A real HTTP server on a loopback address that serves feeds with every behaviour real servers have.

Each path is a route: a function that answers one request. The builders below make the
usual ones (a feed with validators, redirects, 429, endless drips, bombs). Every request
is recorded, so tests can check what Curator sent.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import brotli

Route = Callable[["Handler"], None]


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # an idle keep-alive connection must not hold the server open
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.server.record(Seen("GET", self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = self.server.routes.get(self.path.split("?")[0])
        if route is None:
            send(self, 404, b"no such feed")
            return
        route(self)

    def log_message(self, *args: object) -> None:
        pass

    @property
    def stopping(self) -> threading.Event:
        return self.server.stopping


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() waits for every handler thread

    def __init__(self, address: tuple[str, int]):
        super().__init__(address, Handler)
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def handle_error(self, request, client_address) -> None:
        pass  # clients that hang up (our deadline, our size cap) are expected here


class FeedServer:
    """`with FeedServer("127.0.0.2") as server: server.routes["/feed"] = feed(...)`."""

    def __init__(self, host: str = "127.0.0.1"):
        self._server = _Server((host, 0))
        self.host, self.port = self._server.server_address[:2]
        self.routes = self._server.routes
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def requests(self, path: str | None = None) -> list[Seen]:
        return [seen for seen in self._server.seen if path is None or seen.path == path]


# --- answers ---------------------------------------------------------------------------


def send(handler: Handler, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def respond(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Route:
    return lambda handler: send(handler, status, body, headers)


def feed(
    body: bytes,
    *,
    content_type: str = "application/rss+xml; charset=utf-8",
    etag: str | None = None,
    last_modified: str | None = None,
    cache_control: str | None = None,
    encoding: str | None = None,
) -> Route:
    """A feed that answers 304 to a request carrying its ETag or Last-Modified."""
    encoded = {"gzip": gzip.compress, "br": brotli.compress, "deflate": zlib.compress, None: bytes}[encoding](body)

    def route(handler: Handler) -> None:
        headers = {"Content-Type": content_type}
        if etag:
            headers["ETag"] = etag
        if last_modified:
            headers["Last-Modified"] = last_modified
        if cache_control:
            headers["Cache-Control"] = cache_control
        fresh = (etag and handler.headers.get("If-None-Match") == etag) or (
            last_modified and handler.headers.get("If-Modified-Since") == last_modified
        )
        if fresh:
            send(handler, 304, b"", headers)
            return
        if encoding:
            headers["Content-Encoding"] = encoding
        send(handler, 200, encoded, headers)

    return route


def redirect(status: int, location: str) -> Route:
    return respond(status, b"", {"Location": location})


def slow(seconds: float, then: Route) -> Route:
    """Waits before answering (no timed assertions: tests only use it to overlap requests)."""

    def route(handler: Handler) -> None:
        handler.stopping.wait(seconds)
        then(handler)

    return route


class Gauge:
    """Counts requests held by its routes at once, and the most seen, across servers."""

    def __init__(self):
        self.now = self.peak = 0
        self._lock = threading.Lock()

    def hold(self, seconds: float, then: Route) -> Route:
        """Hold each request `seconds`, counted, then answer (uncounted: the client is not done before)."""

        def counted(handler: Handler) -> None:
            with self._lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            handler.stopping.wait(seconds)
            with self._lock:
                self.now -= 1
            then(handler)

        return counted


def endless(handler: Handler) -> None:
    """Sends a feed's first bytes, then one byte at a time, forever."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    try:
        handler.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel><title>endless</title>')
        while not handler.stopping.wait(0.02):
            handler.wfile.write(b" ")
            handler.wfile.flush()
    except OSError:
        pass  # the client gave up: that is the point


def stream(size: int, *, declare_length: bool = False, chunk: bytes = b"<!-- padding -->\n") -> Route:
    """A body of `size` bytes, streamed, with or without its Content-Length."""

    def route(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        if declare_length:
            handler.send_header("Content-Length", str(size))
        else:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        block = chunk * (65536 // len(chunk))
        sent = 0
        try:
            while sent < size and not handler.stopping.is_set():
                piece = block[: size - sent]
                handler.wfile.write(piece)
                sent += len(piece)
        except OSError:
            pass

    return route


def compressed_bomb(size: int, encoding: str = "gzip") -> Route:
    """`size` bytes of zeros, compressed to a few kilobytes."""
    zeros = b"\0" * size
    body = gzip.compress(zeros, compresslevel=9) if encoding == "gzip" else brotli.compress(zeros, quality=4)
    del zeros
    return respond(200, body, {"Content-Type": "application/rss+xml", "Content-Encoding": encoding})


# --- feed documents ----------------------------------------------------------------------


def http_date(epoch: float | None = None) -> str:
    return formatdate(time.time() if epoch is None else epoch, usegmt=True)


def rss(title: str, entries: list[dict[str, str]], *, encoding: str = "utf-8", link: str = "") -> bytes:
    """An RSS 2.0 document; each entry may have title, link, guid, date, description."""
    items = []
    for entry in entries:
        parts = [f"<title>{escape(entry.get('title', ''))}</title>"]
        if "link" in entry:
            parts.append(f"<link>{escape(entry['link'])}</link>")
        if "guid" in entry:
            permalink = "true" if entry["guid"].startswith("http") else "false"
            parts.append(f'<guid isPermaLink="{permalink}">{escape(entry["guid"])}</guid>')
        if "date" in entry:
            parts.append(f"<pubDate>{entry['date']}</pubDate>")
        if "description" in entry:
            parts.append(f"<description>{escape(entry['description'])}</description>")
        items.append("<item>" + "".join(parts) + "</item>")
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{escape(link)}</link>{''.join(items)}</channel></rss>"
    )
    return text.encode(encoding)


def entries(prefix: str, count: int, *, site: str = "https://example.org") -> list[dict[str, str]]:
    """`count` ordinary entries with distinct links, titles and recent dates."""
    now = time.time()
    return [
        {
            "title": f"{prefix} post number {i}",
            "link": f"{site}/{prefix}/{i}",
            "guid": f"{site}/{prefix}/{i}",
            "date": http_date(now - 3600 * (i + 1)),
            "description": f"<p>Post {i} of {prefix}.</p>",
        }
        for i in range(count)
    ]


def sources(*urls: str, topics: tuple[str, ...] = ("career",)):
    """feeds.yaml contents with two topics and these feeds, each hinting `topics`."""
    from curator.sources import Sources

    return Sources.model_validate({
        "topics": [{"name": "career", "keywords": ["career"]}, {"name": "learning", "keywords": ["learn"]}],
        "feeds": [{"url": url, "topics": list(topics)} for url in urls],
    })
