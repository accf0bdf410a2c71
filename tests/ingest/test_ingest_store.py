"""The whole ingest path against a feed server on loopback and a real database: what ends up stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from feedserver import (
    compressed_bomb,
    endless,
    entries,
    feed,
    http_date,
    redirect,
    respond,
    rss,
    sources,
)
from sqlalchemy import select, update

from curator.ingest import run_ingest
from curator.ingest.health import enable
from curator.store.schema import feeds, item_sources, items

BODY = rss("Example", entries("ex", 3), link="https://example.org/")


def ingest(settings, engine, *urls, only=None, **overrides):
    return run_ingest(settings.model_copy(update=overrides), engine, sources(*urls), only=only)


def feed_row(engine, url):
    with engine.connect() as conn:
        return conn.execute(select(feeds).where(feeds.c.source_url == url)).one()


def stored(engine):
    with engine.connect() as conn:
        return conn.execute(select(items).order_by(items.c.id)).all()


def sources_of(engine):
    """item id → set of feed source URLs it was seen in."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(item_sources.c.item_id, feeds.c.source_url).join(feeds, feeds.c.id == item_sources.c.feed_id)
        ).all()
    out: dict[int, set[str]] = {}
    for item_id, url in rows:
        out.setdefault(item_id, set()).add(url)
    return out


def make_due(engine):
    """Pretend the waits are over (a test does not sleep for an hour)."""
    with engine.begin() as conn:
        conn.execute(update(feeds).values(next_fetch_at=None))


def test_a_feed_is_stored_then_fetched_conditionally(settings, engine, server):
    server.routes["/feed"] = feed(BODY, etag='"v1"', last_modified=http_date(0))
    url = server.url("/feed")
    first = ingest(settings, engine, url)
    assert [r.as_json() for r in first.feeds] == [
        {"url": url, "status": "ok", "new_items": 3, "total_items": 3, "error": None}
    ]
    row = feed_row(engine, url)
    assert (row.last_status, row.http_status, row.consecutive_errors, row.last_error) == ("ok", 200, 0, None)
    assert row.etag == '"v1"' and row.last_modified == http_date(0)
    assert row.last_success_at == row.last_fetch_at and row.title == "Example"
    assert row.site_url == "https://example.org/" and row.topics == ["career"]

    second = ingest(settings, engine, url)
    assert [(r.status, r.new_items, r.total_items) for r in second.feeds] == [("not_modified", 0, 3)]
    assert server.requests("/feed")[1].headers["if-none-match"] == '"v1"'
    assert feed_row(engine, url).last_status == "not_modified"
    assert len(stored(engine)) == 3


def test_items_are_normalized_and_sanitized(settings, engine, server):
    body = rss("Norm", [
        {
            "title": "  A <b>bold</b>   title ",
            "link": "/posts/1?utm_source=rss&id=7",
            "guid": "post-1",
            "date": "Tue, 02 Jan 2024 10:00:00 +0200",
            "description": '<p onclick="x()">Hi <script>alert(1)</script><a href="javascript:evil()">x</a>'
                           '<a href="/about">about</a></p>',
        },
        {"title": "No date", "link": "https://example.org/nodate"},
    ])
    server.routes["/feed"] = feed(body)
    before = datetime.now(UTC)
    ingest(settings, engine, server.url("/feed"))
    first, second = stored(engine)
    assert first.url == server.url("/posts/1?utm_source=rss&id=7")
    assert first.canonical_url == server.url("/posts/1?id=7")
    assert first.title == "A bold title" and first.guid == "post-1"
    assert first.published_at == datetime(2024, 1, 2, 8, 0, tzinfo=UTC)
    for bad in ("<script", "onclick", "javascript:"):
        assert bad not in first.summary_html
    assert f'href="{server.url("/about")}"' in first.summary_html
    assert first.summary_text == "Hi xabout" or first.summary_text.startswith("Hi")
    assert before <= second.published_at <= datetime.now(UTC)  # no date: first seen


def test_entries_without_any_address_are_skipped_and_counted(settings, engine, server):
    body = rss("Links", [
        {"title": "Only a tag GUID", "guid": "tag:example.org,2024:1"},
        {"title": "A permalink GUID", "guid": "https://example.org/permalink"},
        {"title": "Same link twice", "link": "https://example.org/twice"},
        {"title": "Same link twice again", "link": "https://example.org/twice?utm_medium=feed"},
        {"title": "Same GUID, new link", "link": "https://example.org/a", "guid": "g1"},
        {"title": "Same GUID, other link", "link": "https://example.org/b", "guid": "g1"},
    ])
    server.routes["/feed"] = feed(body)
    report = ingest(settings, engine, server.url("/feed")).feeds[0]
    assert (report.status, report.new_items, report.skipped_entries) == ("ok", 3, 1)
    assert [row.canonical_url for row in stored(engine)] == [
        "https://example.org/permalink", "https://example.org/twice", "https://example.org/a"
    ]


def test_the_same_story_in_two_feeds_is_one_item_with_two_sources(settings, engine, server):
    day = datetime(2024, 3, 10, 12, tzinfo=UTC)
    story = {"title": "How to grow as a staff engineer", "date": http_date(day.timestamp())}
    server.routes["/one"] = feed(rss("One", [
        {**story, "link": "https://a.example/staff?utm_source=one"},
        {"title": "Weekly links", "link": "https://a.example/weekly", "date": http_date(day.timestamp())},
        {"title": "Lessons from ten years of code review", "link": "https://a.example/review",
         "date": http_date(day.timestamp())},
    ]))
    server.routes["/two"] = feed(rss("Two", [
        {**story, "link": "https://a.example/staff?utm_campaign=two"},  # same canonical URL
        {"title": "Weekly links", "link": "https://b.example/weekly", "date": http_date(day.timestamp())},
        {"title": "Lessons from Ten Years of Code Review!", "link": "https://b.example/review",  # near-duplicate
         "date": http_date((day + timedelta(days=2)).timestamp())},
        {"title": "How to grow as a staff engineer", "link": "https://b.example/old-staff",  # too far apart
         "date": http_date((day - timedelta(days=30)).timestamp())},
    ]))
    one, two = server.url("/one"), server.url("/two")
    first = ingest(settings, engine, one, two, only=one)  # one after the other: which is first matters
    second = ingest(settings, engine, one, two, only=two)
    assert [(r.new_items, r.total_items) for r in first.feeds + second.feeds] == [(3, 3), (2, 4)]
    by_url = {row.canonical_url: row.id for row in stored(engine)}
    assert set(by_url) == {
        "https://a.example/staff", "https://a.example/weekly", "https://a.example/review",
        "https://b.example/weekly", "https://b.example/old-staff",
    }
    seen = sources_of(engine)
    assert seen[by_url["https://a.example/staff"]] == {one, two}
    assert seen[by_url["https://a.example/review"]] == {one, two}
    assert seen[by_url["https://b.example/weekly"]] == {two}  # short titles are too common to merge on


def test_permanent_redirect_moves_the_feed_temporary_does_not(settings, engine, server):
    server.routes["/new"] = feed(BODY)
    server.routes["/old"] = redirect(301, "/new")
    server.routes["/elsewhere"] = redirect(302, "/new")
    old, elsewhere = server.url("/old"), server.url("/elsewhere")
    report = ingest(settings, engine, old, elsewhere)
    assert {r.url: r.moved_to for r in report.feeds} == {old: server.url("/new"), elsewhere: None}
    assert feed_row(engine, old).url == server.url("/new")
    assert feed_row(engine, elsewhere).url == elsewhere

    ingest(settings, engine, old, elsewhere)  # feeds.yaml still says /old: the row is found by it
    assert len(server.requests("/old")) == 1 and len(server.requests("/elsewhere")) == 2
    with engine.connect() as conn:
        assert conn.execute(select(feeds.c.id)).all().__len__() == 2


def test_retry_after_and_max_age_hold_the_next_fetch(settings, engine, server):
    server.routes["/busy"] = respond(429, b"", {"Retry-After": "7200"})
    server.routes["/cached"] = feed(BODY, cache_control="max-age=1800")
    busy, cached = server.url("/busy"), server.url("/cached")
    before = datetime.now(UTC)
    ingest(settings, engine, busy, cached)
    busy_row, cached_row = feed_row(engine, busy), feed_row(engine, cached)
    assert busy_row.last_status == "error" and busy_row.http_status == 429
    assert busy_row.last_error.startswith("HTTP 429 Too Many Requests; the server asked to wait until")
    assert busy_row.next_fetch_at >= before + timedelta(seconds=7199)
    assert cached_row.last_status == "ok" and cached_row.next_fetch_at >= before + timedelta(seconds=1799)

    again = ingest(settings, engine, busy, cached)
    assert again.feeds == [] and again.not_due == 2
    assert len(server.requests("/busy")) == 1 and len(server.requests("/cached")) == 1


def test_errors_back_off_then_disable_the_feed_until_enabled(settings, engine, server):
    server.routes["/down"] = respond(503)
    url = server.url("/down")
    before = datetime.now(UTC)
    ingest(settings, engine, url, feed_disable_after=3)
    row = feed_row(engine, url)
    assert (row.last_status, row.consecutive_errors, row.disabled) == ("error", 1, False)
    assert row.last_error == "HTTP 503 Service Unavailable"
    assert before + timedelta(minutes=15) <= row.next_fetch_at <= datetime.now(UTC) + timedelta(minutes=15)

    make_due(engine)
    ingest(settings, engine, url, feed_disable_after=3)
    row = feed_row(engine, url)
    assert row.consecutive_errors == 2 and row.next_fetch_at >= before + timedelta(minutes=30)

    make_due(engine)
    report = ingest(settings, engine, url, feed_disable_after=3)
    row = feed_row(engine, url)
    assert (row.consecutive_errors, row.disabled) == (3, True)
    hint = f"disabled after 3 errors in a row: fix it, then run `curator feeds enable {url}`"
    assert row.last_error == f"HTTP 503 Service Unavailable; {hint}" == report.feeds[0].error

    make_due(engine)
    skipped = ingest(settings, engine, url, feed_disable_after=3)
    assert skipped.feeds == [] and skipped.disabled == [url]

    server.routes["/down"] = feed(BODY)
    enable(engine, url)
    back = ingest(settings, engine, url, feed_disable_after=3)
    assert [(r.status, r.new_items) for r in back.feeds] == [("ok", 3)]
    row = feed_row(engine, url)
    assert (row.consecutive_errors, row.disabled, row.last_error) == (0, False, None)


def test_hostile_feeds_are_recorded_and_never_stop_the_run(settings, engine, server):
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
        b'<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">'
        b'<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">'
        b'<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">'
        b'<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">'
        b'<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">'
        b'<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>'
        b'<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
        b"<link>https://evil.example/1</link></item></channel></rss>"
    )
    external = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>x</title><item><title>&x;</title><description>&x;</description>'
        b"<link>https://evil.example/2</link></item></channel></rss>"
    )
    server.routes["/good"] = feed(BODY)
    server.routes["/bomb"] = feed(bomb)
    server.routes["/external"] = feed(external)
    server.routes["/zip"] = compressed_bomb(50_000_000)
    server.routes["/endless"] = endless
    server.routes["/notafeed"] = respond(200, b"<html><body>Hello</body></html>", {"Content-Type": "text/html"})
    urls = {name: server.url(f"/{name}") for name in ("good", "bomb", "external", "zip", "endless", "notafeed")}
    report = ingest(settings, engine, *urls.values(), fetch_deadline=1.0)
    by_url = {r.url: r for r in report.feeds}
    assert by_url[urls["good"]].new_items == 3
    assert by_url[urls["zip"]].error == "response larger than 10 MB"
    assert by_url[urls["endless"]].error.startswith("the download took longer than 1 s")
    assert by_url[urls["notafeed"]].status == "error"
    assert by_url[urls["notafeed"]].error.startswith("not a readable feed:")
    for name in ("zip", "endless", "notafeed"):
        row = feed_row(engine, urls[name])
        assert row.last_status == "error" and row.last_error == by_url[urls[name]].error
    for row in stored(engine):
        assert "root:" not in row.title + row.summary_html  # no external entity was read
        assert len(row.title) < 1000  # no entity was expanded a billion times


def test_wrong_charset_and_brotli_still_read(settings, engine, server):
    cyrillic = rss("Блог", [{"title": "Карьера разработчика", "link": "https://example.ru/1"}], encoding="windows-1251")
    server.routes["/cp1251"] = feed(cyrillic, content_type="application/rss+xml; charset=utf-8")
    server.routes["/br"] = feed(BODY, encoding="br")
    report = ingest(settings, engine, server.url("/cp1251"), server.url("/br"))
    assert sorted((r.status, r.new_items) for r in report.feeds) == [("ok", 1), ("ok", 3)]
    titles = {row.canonical_url: row.title for row in stored(engine)}
    assert "\x00" not in titles["https://example.ru/1"]


def test_file_feeds_are_refused_unless_allowed(settings, engine, tmp_path):
    path = tmp_path / "local.xml"
    path.write_bytes(BODY)
    refused = ingest(settings, engine, str(path))
    assert refused.feeds[0].error == "file feeds are disabled: set CURATOR_ALLOW_FILE_FEEDS=true"
    assert feed_row(engine, str(path)).last_error == "file feeds are disabled: set CURATOR_ALLOW_FILE_FEEDS=true"
    make_due(engine)
    allowed = ingest(settings, engine, str(path), allow_file_feeds=True)
    assert [(r.status, r.new_items) for r in allowed.feeds] == [("ok", 3)]
    again = ingest(settings, engine, str(path), allow_file_feeds=True)
    assert [r.status for r in again.feeds] == ["not_modified"]


def test_only_one_feed(settings, engine, server):
    server.routes["/a"] = feed(BODY)
    server.routes["/b"] = feed(rss("B", entries("b", 2)))
    report = ingest(settings, engine, server.url("/a"), server.url("/b"), only=server.url("/b"))
    assert [(r.url, r.new_items) for r in report.feeds] == [(server.url("/b"), 2)]
    assert server.requests("/a") == []
    from curator.errors import NotFound

    with pytest.raises(NotFound, match="is not in"):
        ingest(settings, engine, server.url("/a"), only="https://nowhere.example/feed")


def test_worker_processes_store_what_one_process_does(settings, engine, server):
    for name in ("a", "b", "c"):
        server.routes[f"/{name}"] = feed(rss(name, entries(name, 4)))
    server.routes["/shared"] = feed(rss("shared", entries("a", 2)))  # the same stories as /a
    urls = [server.url(f"/{name}") for name in ("a", "b", "c")]
    report = ingest(settings, engine, *urls, ingest_processes=2)
    assert sorted((r.status, r.new_items, r.total_items) for r in report.feeds) == [("ok", 4, 4)] * 3
    shared = ingest(settings, engine, *urls, server.url("/shared"), only=server.url("/shared"), ingest_processes=2)
    assert [(r.new_items, r.total_items) for r in shared.feeds] == [(0, 2)]
    assert len(stored(engine)) == 12


def test_items_stored_by_worker_processes_have_the_vectors_and_kinds_worked_out_in_process(settings, engine, server):
    # Workers store items without vectors; the run's Vectors stage adds them, in batches, in this process.
    from curator import embed, pagekind

    for name in ("a", "b", "c"):
        server.routes[f"/{name}"] = feed(rss(name, entries(name, 5)))
    report = ingest(settings, engine, *(server.url(f"/{n}") for n in ("a", "b", "c")), ingest_processes=2)
    assert sum(r.new_items for r in report.feeds) == 15
    rows = stored(engine)
    vectors = embed.embed([embed.item_text(row.title, row.summary_text) for row in rows])
    kinds = pagekind.predict([(row.url, row.title, row.summary_text) for row in rows], vectors)
    assert [row.embedding for row in rows] == [embed.to_bytes(v) for v in vectors]
    assert [(row.kind, row.kind_confidence, row.kind_value, row.kind_version) for row in rows] == [
        (*kind, pagekind.version()) for kind in kinds
    ]


def test_a_batch_of_vectors_is_written_during_the_run_and_the_rest_at_its_end(settings, engine, server, monkeypatch):
    from curator.ingest import vectors

    batches, store = [], vectors.store_vectors

    def recording(engine, new):
        batches.append(len(new))
        store(engine, new)

    monkeypatch.setattr(vectors, "store_vectors", recording)
    monkeypatch.setattr(vectors.Vectors, "BATCH", 4)  # 3 feeds of 3 new items: 6 once 4 wait, then the last 3
    for name in ("a", "b", "c"):
        server.routes[f"/{name}"] = feed(rss(name, entries(name, 3)))
    ingest(settings, engine, *(server.url(f"/{n}") for n in ("a", "b", "c")))
    rows = stored(engine)
    assert batches == [6, 3]
    assert len(rows) == 9 and all(row.embedding and row.kind and row.kind_version for row in rows)


def test_parse_workers_import_neither_numpy_the_embedding_model_httpx_nor_alembic(settings, engine, server):
    from curator.ingest import Workers, process_in_worker
    from curator.ingest.fetch import FetchResult
    from curator.ingest.store_items import feed_rows, sync_feeds

    url = server.url("/a")
    settings = settings.model_copy(update={"ingest_processes": 2})
    with engine.begin() as conn:
        sync_feeds(conn, sources(url))
        (row,) = feed_rows(conn, [url])
    result = FetchResult(url, "ok", url, http_status=200, content=rss("a", entries("a", 3)),
                         content_type="application/rss+xml")
    with Workers(settings, engine, 1) as workers:
        pool = workers._start()
        report, new = pool.submit(process_in_worker, settings, row, result).result()
        modules = "('numpy', 'tokenizers', 'wordllama', 'httpx', 'alembic')"  # the last two: not for storing
        heavy = f"[m for m in {modules} if m in __import__('sys').modules]"
        loaded = pool.submit(eval, heavy)
        assert (report.status, len(new), loaded.result()) == ("ok", 3, [])



def test_parse_workers_keep_what_the_fork_server_imported_out_of_the_collectors_reach(settings, engine):
    from curator.ingest import Workers

    settings = settings.model_copy(update={"ingest_processes": 2})
    with Workers(settings, engine, 1) as workers:
        pool = workers._start()
        frozen = pool.submit(eval, "__import__('gc').get_freeze_count()").result()
        imported = pool.submit(eval, "'sqlalchemy' in __import__('sys').modules").result()
    assert frozen > 10_000 and imported  # the modules a worker uses, imported once, in the fork server

def test_304_answers_are_recorded_in_batches_as_one_by_one(settings, engine, server, monkeypatch):
    from curator.ingest import Workers

    monkeypatch.setattr(Workers, "UNCHANGED_BATCH", 2)  # 3 feeds answering 304: a batch of 2 mid-run, 1 at the end
    urls = []
    for n, name in enumerate(("a", "b", "c")):
        server.routes[f"/{name}"] = feed(
            rss(name, entries(name, 2)), etag=f'"{name}1"', cache_control=f"max-age={3600 * (n + 1)}"
        )
        urls.append(server.url(f"/{name}"))
    ingest(settings, engine, *urls)
    with engine.begin() as conn:  # as if each had failed twice since, and were due again
        conn.execute(update(feeds).values(next_fetch_at=None, consecutive_errors=2, last_error="was down"))
    before = {url: feed_row(engine, url) for url in urls}
    again = ingest(settings, engine, *urls)
    assert sorted((r.url, r.status, r.new_items, r.total_items) for r in again.feeds) == [
        (url, "not_modified", 0, 2) for url in urls
    ]
    for url in urls:
        row, old = feed_row(engine, url), before[url]
        assert (row.last_status, row.http_status, row.consecutive_errors, row.last_error) == (
            "not_modified", 304, 0, None)
        assert row.etag == old.etag and row.last_success_at == row.last_fetch_at > old.last_fetch_at
    waits = [feed_row(engine, url).next_fetch_at for url in urls]
    assert None not in waits and waits == sorted(waits)  # each feed's own, from its answer's Cache-Control


def test_a_304_whose_etag_is_too_long_to_store_fails_alone(settings, engine, server):
    long = '"' + "x" * 600 + '"'  # the etag column holds 500 characters; a 304 carrying it is not batched
    server.routes["/fine"] = feed(rss("fine", entries("fine", 1)), etag='"f1"')
    server.routes["/long"] = feed(rss("long", entries("long", 1)), etag='"s1"')
    urls = [server.url("/long"), server.url("/fine")]
    ingest(settings, engine, *urls)
    server.routes["/long"] = respond(304, b"", {"ETag": long})
    make_due(engine)
    again = {r.url: r.status for r in ingest(settings, engine, *urls).feeds}
    assert again[urls[1]] == "not_modified" and feed_row(engine, urls[1]).last_status == "not_modified"
    if engine.dialect.name == "postgresql":  # refuses the value: that feed's error, recorded on its row alone
        assert again[urls[0]] == "error" and "could not store this feed" in feed_row(engine, urls[0]).last_error
    else:  # SQLite does not check lengths
        assert again[urls[0]] == "not_modified" and feed_row(engine, urls[0]).etag == long
