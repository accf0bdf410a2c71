"""`curator ingest`, `curator items` and `curator feeds`, run in process and, for exit codes, as a program."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from feedserver import entries, feed, respond, rss
from typer.testing import CliRunner

from curator.cli import app
from curator.cli._app import state

TOPICS = """\
topics:
  - name: career
    keywords: [career]
  - name: learning
    keywords: [learn]
"""


def write_feeds(path, *feeds: tuple[str, list[str]]) -> None:
    lines = [TOPICS, "feeds:\n"] if feeds else [TOPICS, "feeds: []\n"]
    for url, topics in feeds:
        lines.append(f"  - url: {url}\n    topics: [{', '.join(topics)}]\n")
    path.write_text("".join(lines), encoding="utf-8")


@pytest.fixture
def feeds_file(tmp_path):
    path = tmp_path / "feeds.yaml"
    write_feeds(path)
    return path


@pytest.fixture
def cli(db_url, feeds_file):
    """Run `curator ...` in process on the test's database and feeds.yaml."""
    runner = CliRunner()

    def run(*args: str):
        try:
            return runner.invoke(app, ["--database-url", db_url, "--feeds", str(feeds_file), *args])
        finally:
            if state._engine is not None:
                state._engine.dispose()

    return run


def test_ingest_json_then_items_and_feeds(cli, feeds_file, server):
    server.routes["/good"] = feed(rss("Good", entries("good", 2)), etag='"1"')
    server.routes["/bad"] = respond(500)
    good, bad = server.url("/good"), server.url("/bad")
    write_feeds(feeds_file, (good, ["career", "learning"]), (bad, ["career"]))

    result = cli("ingest", "--json")
    assert result.exit_code == 0, result.output  # a failing feed is reported, not fatal
    by_url = {r["url"]: r for r in json.loads(result.stdout)}
    assert by_url[good] == {"url": good, "status": "ok", "new_items": 2, "total_items": 2, "error": None}
    assert by_url[bad]["status"] == "error"
    assert by_url[bad]["error"] == "HTTP 500 Internal Server Error: the server failed; Curator retries later"

    listed = json.loads(cli("items", "--json", "--limit", "1").stdout)
    assert len(listed) == 1
    assert listed[0]["canonical_url"] == "https://example.org/good/0"
    assert listed[0]["topics"] == ["career", "learning"] and listed[0]["feeds"] == [good]
    assert listed[0]["summary_html"] == "<p>Post 0 of good.</p>" and listed[0]["summary_text"] == "Post 0 of good."
    assert json.loads(cli("items", "--json", "--feed", bad).stdout) == []

    health = {h["url"]: h for h in json.loads(cli("feeds", "--json").stdout)}
    assert health[good]["status"] == "ok" and health[good]["items_total"] == 2
    assert health[bad]["status"] == "error" and health[bad]["consecutive_errors"] == 1

    table = cli("feeds")
    assert table.exit_code == 0 and "HTTP 500" in table.output

    again = cli("ingest")  # the human summary: the failed feed is not due yet
    assert again.exit_code == 0, again.output
    assert "not due yet" in again.output and "0 new items" in again.output


def test_ingest_summary_table(cli, feeds_file, server):
    server.routes["/good"] = feed(rss("Good", entries("good", 2)))
    write_feeds(feeds_file, (server.url("/good"), ["career"]))
    result = cli("ingest")
    assert result.exit_code == 0, result.output
    assert server.url("/good") in result.output and "1 feeds fetched" in result.output
    assert "2 new items" in result.output
    items = cli("items")
    assert items.exit_code == 0 and "published" in items.output


def test_feeds_check_reports_problems_and_stores_nothing(cli, feeds_file, server, engine):
    server.routes["/good"] = feed(rss("Good", entries("good", 2)))
    server.routes["/html"] = respond(200, b"<html>no feed here</html>", {"Content-Type": "text/html"})
    write_feeds(feeds_file, (server.url("/good"), ["career"]), (server.url("/html"), ["career"]))
    result = cli("feeds", "check", "--json")
    assert result.exit_code == 1
    by_url = {r["url"]: r for r in json.loads(result.stdout)}
    assert by_url[server.url("/good")]["entries"] == 2 and by_url[server.url("/good")]["error"] is None
    assert by_url[server.url("/html")]["error"].startswith("not a readable feed")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM items").scalar() == 0


def test_feeds_import_adds_opml_feeds_to_feeds_yaml(cli, feeds_file, tmp_path):
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body>'
        '<outline text="Learning"><outline text="A" xmlUrl="https://a.example/feed"/></outline>'
        '<outline text="Other"><outline text="B" xmlUrl="https://b.example/feed"/>'
        '<outline text="Bad" xmlUrl="not a url"/></outline>'
        "</body></opml>",
        encoding="utf-8",
    )
    result = cli("feeds", "import", str(opml))
    assert result.exit_code == 0, result.output
    assert "Added 2 feeds" in result.output and "skipped 'not a url'" in result.output
    from curator.sources import load_sources

    listed = {f.url: f.topics for f in load_sources(feeds_file).feeds}
    assert listed == {"https://a.example/feed": ["learning"], "https://b.example/feed": []}

    again = cli("feeds", "import", str(opml), "--topic", "career")
    assert "Added 0 feeds" in again.output and "2 were listed already" in " ".join(again.output.split())
    unknown = cli("feeds", "import", str(opml), "--topic", "cooking")
    assert unknown.exit_code != 0 and "no topic named 'cooking'" in str(unknown.exception)


def test_feeds_enable(cli, feeds_file, server, db_url):
    server.routes["/down"] = respond(503)
    write_feeds(feeds_file, (server.url("/down"), ["career"]))
    from curator.store import make_engine
    from curator.store.schema import feeds

    cli("ingest", "--json")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(feeds.update().values(disabled=True, consecutive_errors=10))
        result = cli("feeds", "enable", server.url("/down"))
        assert result.exit_code == 0 and "Enabled" in result.output
        with engine.connect() as conn:
            assert conn.execute(feeds.select()).one().disabled is False
    finally:
        engine.dispose()
    missing = cli("feeds", "enable", "https://nowhere.example/feed")
    assert "no stored feed has the address https://nowhere.example/feed" in str(missing.exception)


def test_ingest_exits_non_zero_only_when_it_cannot_run(tmp_path, db_url):
    bad = tmp_path / "feeds.yaml"
    bad.write_text(TOPICS + "feeds:\n  - url: not a url\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "curator", "--database-url", db_url, "--feeds", str(bad), "ingest"],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 2
    assert f"{bad}:7: feeds[0].url: not a URL" in run.stderr
