"""Fetch feeds: bounded concurrency, timeouts, a size cap, redirects by hand, conditional GET.

`Fetcher.fetch` never raises: every failure comes back as a `FetchResult` whose
`error` says what went wrong in words a person can act on.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import brotli
import httpx

from curator import __version__, netguard
from curator.config import Settings
from curator.ingest.fetched import FetchRequest, FetchResult, Status  # noqa: F401  (re-exported)

REDIRECTS = {301, 302, 303, 307, 308}
PERMANENT = {301, 308}
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
CHUNK = 64 * 1024
FILE_FEEDS_OFF = "file feeds are disabled: set CURATOR_ALLOW_FILE_FEEDS=true"


class FetchError(Exception):
    """One feed could not be fetched; the message is what the feed row records."""

    def __init__(self, message: str, *, http_status: int | None = None, wait_until: datetime | None = None):
        super().__init__(message)
        self.http_status = http_status
        self.wait_until = wait_until


def user_agent(settings: Settings) -> str:
    return f"Curator/{__version__} (+{settings.base_url})"


def is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


class Fetcher:
    """One HTTP client shared by every feed of a run, with the global and per-host limits."""

    def __init__(self, settings: Settings, *, file_base: Path | None = None, expected: list[str] = ()):
        """`expected`: the addresses about to be fetched, so that each host's connections stay open until the last."""
        self.settings = settings
        self.file_base = file_base or Path.cwd()
        self._all = asyncio.Semaphore(settings.fetch_concurrency)
        self._hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.fetch_per_host)
        )
        self._expected = Counter(expected)
        self._users = Counter(_host(url) for url in expected)
        # One small client per host: httpcore scans its whole pool at every request, so one
        # pool of a hundred connections costs more CPU than the parsing. They share TLS setup.
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._ssl = None
        self._open = False
        # Feeds reach only public addresses unless the operator allows private ones; the guard
        # resolves each host once per run and caches its verdict (curator.netguard).
        self._guard = None if settings.fetch_allow_private else netguard.Guard()

    async def __aenter__(self) -> Fetcher:
        self._ssl = httpx.create_ssl_context()
        self._open = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._open = False
        while self._clients:
            await self._clients.popitem()[1].aclose()

    def _client(self, host: str) -> httpx.AsyncClient:
        assert self._open, "use `async with Fetcher(...)`"
        client = self._clients.get(host)
        if client is None:
            s = self.settings
            limits = httpx.Limits(max_connections=s.fetch_per_host, max_keepalive_connections=s.fetch_per_host)
            transport = None if self._guard is None else netguard.AsyncGuardedTransport(self._guard, self._ssl, limits)
            client = self._clients[host] = httpx.AsyncClient(
                verify=self._ssl,
                transport=transport,
                # The deadline bounds the pool wait too; the host's semaphore keeps it short anyway.
                timeout=httpx.Timeout(
                    connect=s.fetch_connect_timeout, read=s.fetch_read_timeout,
                    write=s.fetch_read_timeout, pool=s.fetch_deadline,
                ),
                limits=limits,
                follow_redirects=False,
                headers={"User-Agent": user_agent(s), "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate, br"},
            )
        return client

    async def fetch(self, request: FetchRequest) -> FetchResult:
        """Fetch one feed within its deadline; never raises."""
        host = _host(request.url)
        if self._expected[request.url] > 0:
            self._expected[request.url] -= 1
        else:
            self._users[host] += 1
        try:
            # The host first: a feed waiting for its host must not hold one of the global slots.
            async with self._hosts[host], self._all:
                async with asyncio.timeout(self.settings.fetch_deadline):
                    if is_http(request.url):
                        return await self._fetch_http(request, self._client(host))
                    return await asyncio.to_thread(self._fetch_file, request)
        except FetchError as exc:
            return FetchResult(
                request.url, "error", request.url, http_status=exc.http_status,
                wait_until=exc.wait_until, error=str(exc),
            )
        except Exception as exc:  # a feed must never stop the run
            return FetchResult(request.url, "error", request.url, error=describe(exc, self.settings))
        finally:
            await self._release(host)

    async def _release(self, host: str) -> None:
        """Close a host's connections once no feed of it is left: thousands of hosts, thousands of sockets."""
        self._users[host] -= 1
        if self._users[host] == 0:
            del self._users[host], self._hosts[host]
            client = self._clients.pop(host, None)
            if client is not None:
                await client.aclose()

    async def _fetch_http(self, request: FetchRequest, client: httpx.AsyncClient) -> FetchResult:
        headers = {}
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        url, moved_to, permanent_so_far = request.url, None, True
        seen = [url]
        for _ in range(self.settings.fetch_max_redirects + 1):
            async with client.stream("GET", url, headers=headers) as response:
                code = response.status_code
                location = response.headers.get("location")
                if code in REDIRECTS and location:
                    target = urljoin(str(response.url), location.strip())
                    if not is_http(target):
                        raise FetchError(f"redirected to {target!r}, which is not an http(s) address", http_status=code)
                    if target in seen:
                        raise FetchError(f"redirect loop: {' → '.join([*seen, target])}", http_status=code)
                    permanent_so_far = permanent_so_far and code in PERMANENT
                    if permanent_so_far:
                        moved_to = target
                    seen.append(target)
                    url = target
                    await discard(response)
                    continue
                return await self._answer(request, response, url, moved_to)
        raise FetchError(
            f"too many redirects (more than {self.settings.fetch_max_redirects}): {' → '.join(seen)}",
            http_status=code,
        )

    async def _answer(
        self, request: FetchRequest, response: httpx.Response, url: str, moved_to: str | None
    ) -> FetchResult:
        """The result of the last response of the redirect chain."""
        code, headers = response.status_code, response.headers
        now = datetime.now(UTC)
        wait = self._cache_wait(headers.get("cache-control"), now)
        result = FetchResult(
            request.url, "ok", url, moved_to=moved_to, http_status=code,
            etag=headers.get("etag") or request.etag,
            last_modified=headers.get("last-modified") or request.last_modified,
            wait_until=wait,
        )
        if not 200 <= code < 300:
            await discard(response)
        if code == 304:
            result.status = "not_modified"
            return result
        if code in (429, 503):
            retry = self._retry_after(headers.get("retry-after"), now)
            hint = f"; the server asked to wait until {retry:%Y-%m-%d %H:%M} UTC" if retry else ""
            raise FetchError(f"HTTP {code} {response.reason_phrase}{hint}", http_status=code, wait_until=retry)
        if not 200 <= code < 300:
            raise FetchError(http_error(code, response.reason_phrase), http_status=code)
        result.content = await read_capped(response, self.settings.fetch_max_bytes)
        result.content_type = headers.get("content-type")
        return result

    def _cache_wait(self, cache_control: str | None, now: datetime) -> datetime | None:
        for part in (cache_control or "").split(","):
            name, _, value = part.strip().partition("=")
            if name.lower() == "max-age":
                try:
                    seconds = int(value.strip().strip('"'))
                except ValueError:
                    return None
                return self._capped(now, seconds) if seconds > 0 else None
        return None

    def _retry_after(self, value: str | None, now: datetime) -> datetime | None:
        if not value:
            return None
        value = value.strip()
        if value.isdigit():
            return self._capped(now, int(value))
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        return self._capped(now, (when - now).total_seconds()) if when > now else None

    def _capped(self, now: datetime, seconds: float) -> datetime:
        # A server may ask for a year; a newsletter cannot wait that long.
        return now + timedelta(seconds=min(seconds, self.settings.fetch_max_wait))

    def _fetch_file(self, request: FetchRequest) -> FetchResult:
        """A local feed file (the offline demo): refused unless allow_file_feeds."""
        if not self.settings.allow_file_feeds:
            raise FetchError(FILE_FEEDS_OFF)
        path = local_path(request.url, self.file_base)
        try:
            stat = path.stat()
            if stat.st_size > self.settings.fetch_max_bytes:
                raise FetchError(f"response larger than {megabytes(self.settings.fetch_max_bytes)}")
            modified = formatdate(stat.st_mtime, usegmt=True)
            if request.last_modified == modified:
                return FetchResult(request.url, "not_modified", path.as_uri(), last_modified=modified)
            content = path.read_bytes()
        except FileNotFoundError:
            raise FetchError(f"no such file: {path}") from None
        except IsADirectoryError:
            raise FetchError(f"{path} is a folder, not a feed file") from None
        except PermissionError:
            raise FetchError(f"cannot read {path}: permission denied") from None
        content_type = "application/feed+json" if path.suffix.lower() == ".json" else None
        return FetchResult(
            request.url, "ok", path.as_uri(), content=content, content_type=content_type, last_modified=modified
        )


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "") if is_http(url) else ""


def local_path(url: str, base: Path) -> Path:
    """The file a file: URL or a bare path names; relative paths start at `base` (feeds.yaml's folder)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        path = Path(unquote(urlsplit(url).path))
    elif len(scheme) > 1:  # one letter is a Windows drive, not a scheme
        raise FetchError(f"unsupported address {url!r}: use http(s)://, file: or a file path")
    else:
        path = Path(url).expanduser()
    return path if path.is_absolute() else base / path


async def read_capped(response: httpx.Response, cap: int) -> bytes:
    """The decoded body, read in chunks; stops as soon as it passes `cap` bytes."""
    too_big = FetchError(f"response larger than {megabytes(cap)}", http_status=response.status_code)
    decoders = [_decoder(name) for name in reversed(_encodings(response.headers.get("content-encoding")))]
    length = response.headers.get("content-length", "")
    if not decoders and length.isdigit() and int(length) > cap:
        raise too_big
    body, size = bytearray(), 0
    async for raw in response.aiter_raw(CHUNK):
        pieces = [raw]
        for decoder in decoders:
            pieces = [out for piece in pieces for out in decoder.feed(piece)]
        for piece in pieces:
            size += len(piece)
            if size > cap:
                raise too_big
            body += piece
    return bytes(body)


async def discard(response: httpx.Response) -> None:
    """Read a short body to its end, so that its connection serves the next request; a long one goes with it."""
    size = 0
    try:
        async for raw in response.aiter_raw():
            size += len(raw)
            if size > CHUNK:
                return
    except httpx.HTTPError:
        pass  # the answer's status is what matters; a broken connection is simply not reused


def _encodings(header: str | None) -> list[str]:
    names = [part.strip().lower() for part in (header or "").split(",")]
    return [name for name in names if name and name != "identity"]


class _Zlib:
    """gzip or deflate, decoded at most CHUNK bytes at a time so a bomb cannot blow up memory."""

    def __init__(self, gzip: bool):
        self._gzip = gzip
        self._z = zlib.decompressobj(zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS)
        self._first = True

    def feed(self, data: bytes):
        try:
            yield from self._drain(data)
        except zlib.error:
            if self._gzip or not self._first:
                raise
            # Some servers send raw deflate without the zlib header.
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            yield from self._drain(data)
        self._first = False

    def _drain(self, data: bytes):
        while data:
            out = self._z.decompress(data, CHUNK)
            data = self._z.unconsumed_tail
            if out:
                yield out
            if self._z.eof:
                return


class _Brotli:
    def __init__(self):
        self._d = brotli.Decompressor()

    def feed(self, data: bytes):
        out = self._d.process(data, output_buffer_limit=CHUNK)
        if out:
            yield out
        while not self._d.can_accept_more_data():
            out = self._d.process(b"", output_buffer_limit=CHUNK)
            if not out:
                return
            yield out


def _decoder(name: str) -> _Zlib | _Brotli:
    if name in ("gzip", "x-gzip"):
        return _Zlib(gzip=True)
    if name == "deflate":
        return _Zlib(gzip=False)
    if name == "br":
        return _Brotli()
    raise FetchError(f"the server answered in an encoding Curator cannot read: {name}")


def http_error(code: int, reason: str) -> str:
    """An HTTP error status in words, with what to do about it."""
    hints = {
        401: "the feed needs a login; Curator reads public feeds only",
        403: "the server refuses Curator; check the address in a browser",
        404: "check the address; the site may have moved its feed",
        410: "the feed was removed; remove it from feeds.yaml",
    }
    hint = hints.get(code) or ("the server failed; Curator retries later" if code >= 500 else "check the address")
    return f"HTTP {code} {reason}: {hint}"


def describe(exc: BaseException, settings: Settings) -> str:
    """An exception from fetching, in words."""
    if isinstance(exc, netguard.BlockedAddress):
        return f"refused: {exc}. If this feed is on your own network, set CURATOR_FETCH_ALLOW_PRIVATE=true"
    if isinstance(exc, TimeoutError):
        return f"the download took longer than {settings.fetch_deadline:g} s: the server is slow or never finishes"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"could not connect within {settings.fetch_connect_timeout:g} s: the host is down or unreachable"
    if isinstance(exc, httpx.ReadTimeout):
        return f"the server sent nothing for {settings.fetch_read_timeout:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out: {exc or type(exc).__name__}"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {exc or 'connection failed'}; check the address and that the site is up"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke the HTTP exchange: {exc}"
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return f"not a valid feed address: {exc}"
    if isinstance(exc, zlib.error | brotli.error):
        return f"the compressed response is corrupt: {exc}"
    if isinstance(exc, httpx.HTTPError):
        return f"network error: {type(exc).__name__}: {exc}"
    return f"unexpected error while fetching: {type(exc).__name__}: {exc}"
