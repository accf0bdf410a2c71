"""Fetching against a real HTTP server on loopback: every behaviour a real server has."""

from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime, timedelta

import pytest
from feedserver import FeedServer, Gauge, compressed_bomb, endless, entries, feed, http_date, redirect, respond, rss
from feedserver import stream as stream_route

from curator.config import Settings
from curator.ingest.fetch import FILE_FEEDS_OFF, Fetcher, FetchRequest, FetchResult

BODY = rss("Example", entries("ex", 3))


def make_settings(**overrides) -> Settings:
    return Settings(base_url="https://news.example.org", **overrides)


def fetch(settings: Settings, *requests: FetchRequest) -> list[FetchResult]:
    async def run():
        async with Fetcher(settings) as fetcher:
            return await asyncio.gather(*(fetcher.fetch(r) for r in requests))

    return asyncio.run(run())


def fetch_one(url: str, **overrides) -> FetchResult:
    return fetch(make_settings(**overrides), FetchRequest(url))[0]


def test_ok_keeps_validators_and_names_the_project(server):
    server.routes["/feed"] = feed(BODY, etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    result = fetch_one(server.url("/feed"))
    assert (result.status, result.http_status, result.error) == ("ok", 200, None)
    assert result.content == BODY
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert (result.etag, result.last_modified) == ('"v1"', "Mon, 01 Jan 2024 00:00:00 GMT")
    assert result.final_url == server.url("/feed") and result.moved_to is None
    seen = server.requests("/feed")[0].headers
    assert seen["user-agent"] == "Curator/0.1.0 (+https://news.example.org)"
    assert {"gzip", "deflate", "br"} <= {part.strip() for part in seen["accept-encoding"].split(",")}


def test_conditional_get_answers_not_modified(server):
    modified = http_date(0)
    server.routes["/etag"] = feed(BODY, etag='"v1"')
    server.routes["/date"] = feed(BODY, last_modified=modified)
    by_etag, by_date = fetch(
        make_settings(),
        FetchRequest(server.url("/etag"), etag='"v1"'),
        FetchRequest(server.url("/date"), last_modified=modified),
    )
    assert (by_etag.status, by_etag.content, by_etag.etag) == ("not_modified", b"", '"v1"')
    assert (by_date.status, by_date.last_modified) == ("not_modified", modified)
    assert server.requests("/etag")[0].headers["if-none-match"] == '"v1"'
    assert server.requests("/date")[0].headers["if-modified-since"] == modified


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate"])
def test_compressed_feeds_are_decoded(server, encoding):
    server.routes["/feed"] = feed(BODY, encoding=encoding)
    result = fetch_one(server.url("/feed"))
    assert result.status == "ok" and result.content == BODY


def test_permanent_redirects_move_the_feed_temporary_ones_do_not(server):
    server.routes["/feed"] = feed(BODY)
    server.routes["/moved"] = redirect(301, "/feed")
    server.routes["/moved308"] = redirect(308, server.url("/feed"))
    server.routes["/found"] = redirect(302, "/feed")
    server.routes["/temp307"] = redirect(307, "/feed")
    server.routes["/moved-then-found"] = redirect(301, "/found")
    server.routes["/found-then-moved"] = redirect(302, "/moved")
    urls = ["/moved", "/moved308", "/found", "/temp307", "/moved-then-found", "/found-then-moved"]
    results = fetch(make_settings(), *(FetchRequest(server.url(u)) for u in urls))
    assert all(r.status == "ok" and r.content == BODY and r.final_url == server.url("/feed") for r in results)
    moved = {u: r.moved_to for u, r in zip(urls, results, strict=True)}
    assert moved == {
        "/moved": server.url("/feed"),
        "/moved308": server.url("/feed"),
        "/found": None,
        "/temp307": None,
        "/moved-then-found": server.url("/found"),  # as far as the chain was permanent
        "/found-then-moved": None,
    }


def test_redirect_loops_and_long_chains_stop(server):
    server.routes["/a"] = redirect(301, "/b")
    server.routes["/b"] = redirect(302, "/a")
    for i in range(10):
        server.routes[f"/hop{i}"] = redirect(302, f"/hop{i + 1}")
    loop, chain = fetch(make_settings(), FetchRequest(server.url("/a")), FetchRequest(server.url("/hop0")))
    assert loop.status == "error" and loop.error.startswith("redirect loop: ")
    assert server.url("/a") in loop.error and server.url("/b") in loop.error
    assert chain.status == "error" and chain.error.startswith("too many redirects (more than 5)")


def test_redirect_to_a_file_is_refused(server):
    server.routes["/sneaky"] = redirect(302, "file:///etc/passwd")
    result = fetch_one(server.url("/sneaky"), allow_file_feeds=True)
    assert result.status == "error" and "not an http(s) address" in result.error


def test_retry_after_seconds_and_dates_are_kept(server):
    later = datetime.now(UTC) + timedelta(hours=2)
    server.routes["/busy"] = respond(429, b"slow down", {"Retry-After": "120"})
    server.routes["/down"] = respond(503, b"", {"Retry-After": http_date(later.timestamp())})
    server.routes["/forever"] = respond(429, b"", {"Retry-After": "99999999"})
    before = datetime.now(UTC)
    busy, down, forever = fetch(
        make_settings(), *(FetchRequest(server.url(u)) for u in ("/busy", "/down", "/forever"))
    )
    assert (busy.status, busy.http_status) == ("error", 429)
    assert busy.error.startswith("HTTP 429 Too Many Requests; the server asked to wait until")
    assert before + timedelta(seconds=119) <= busy.wait_until <= datetime.now(UTC) + timedelta(seconds=121)
    assert (down.status, down.http_status) == ("error", 503)
    assert abs(down.wait_until - later) < timedelta(seconds=2)
    assert forever.wait_until <= datetime.now(UTC) + timedelta(days=1)  # capped by fetch_max_wait


def test_cache_control_max_age_sets_the_next_fetch(server):
    server.routes["/feed"] = feed(BODY, cache_control="public, max-age=3600")
    before = datetime.now(UTC)
    result = fetch_one(server.url("/feed"))
    assert result.status == "ok"
    assert before + timedelta(seconds=3599) <= result.wait_until <= datetime.now(UTC) + timedelta(seconds=3601)


def test_http_errors_are_in_words(server):
    server.routes["/gone"] = respond(410)
    server.routes["/missing"] = respond(404)
    gone, missing = fetch(make_settings(), FetchRequest(server.url("/gone")), FetchRequest(server.url("/missing")))
    assert gone.error == "HTTP 410 Gone: the feed was removed; remove it from feeds.yaml"
    assert missing.error == "HTTP 404 Not Found: check the address; the site may have moved its feed"


def test_a_feed_that_never_finishes_stops_at_its_deadline(server):
    server.routes["/endless"] = endless
    result = fetch_one(server.url("/endless"), fetch_deadline=0.5)
    assert result.status == "error"
    assert result.error == "the download took longer than 0.5 s: the server is slow or never finishes"


@pytest.mark.parametrize("declare_length", [False, True])
def test_a_huge_response_stops_at_the_cap(server, declare_length):
    server.routes["/huge"] = stream_route(11_000_000, declare_length=declare_length)
    result = fetch_one(server.url("/huge"))
    assert (result.status, result.error) == ("error", "response larger than 10 MB")


@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_a_decompression_bomb_stops_at_the_cap(server, encoding):
    server.routes["/bomb"] = compressed_bomb(50_000_000, encoding)
    result = fetch_one(server.url("/bomb"))
    assert (result.status, result.error) == ("error", "response larger than 10 MB")


def test_corrupt_compression_is_an_error(server):
    server.routes["/broken"] = respond(200, b"not gzip at all", {"Content-Encoding": "gzip"})
    server.routes["/zstd"] = respond(200, gzip.compress(BODY), {"Content-Encoding": "zstd"})
    broken, zstd = fetch(make_settings(), FetchRequest(server.url("/broken")), FetchRequest(server.url("/zstd")))
    assert broken.status == "error" and broken.error.startswith("the compressed response is corrupt")
    assert zstd.error == "the server answered in an encoding Curator cannot read: zstd"


def test_connection_refused_is_an_error():
    with FeedServer() as gone:
        url = gone.url("/feed")
    result = fetch_one(url)
    assert result.status == "error" and result.error.startswith("cannot connect:")


def test_limits_per_host_and_overall():
    gauges = {}
    servers = [FeedServer(f"127.0.0.{i}") for i in (2, 3, 4)]
    overall = Gauge()
    requests = []
    for server in servers:
        server.__enter__()
        gauges[server.host] = Gauge()
        for i in range(6):
            # Each request is counted by its host's gauge and by the overall one.
            server.routes[f"/f{i}"] = gauges[server.host].hold(0.1, overall.hold(0.05, feed(BODY)))
            requests.append(FetchRequest(server.url(f"/f{i}")))
    try:
        results = fetch(make_settings(fetch_concurrency=4, fetch_per_host=2), *requests)
    finally:
        for server in servers:
            server.__exit__(None, None, None)
    assert all(r.status == "ok" for r in results)
    assert all(g.peak <= 2 for g in gauges.values()), {h: g.peak for h, g in gauges.items()}
    assert overall.peak <= 4


def test_file_feeds_are_refused_unless_allowed(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(BODY)
    refused = fetch_one(str(path))
    assert (refused.status, refused.error) == ("error", FILE_FEEDS_OFF)
    assert refused.error == "file feeds are disabled: set CURATOR_ALLOW_FILE_FEEDS=true"
    allowed = fetch_one(path.as_uri(), allow_file_feeds=True)
    assert (allowed.status, allowed.content, allowed.final_url) == ("ok", BODY, path.as_uri())
    again = fetch(
        make_settings(allow_file_feeds=True), FetchRequest(str(path), last_modified=allowed.last_modified)
    )[0]
    assert again.status == "not_modified"
    missing = fetch_one(str(tmp_path / "nope.xml"), allow_file_feeds=True)
    assert missing.status == "error" and missing.error == f"no such file: {tmp_path / 'nope.xml'}"
