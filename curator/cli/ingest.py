"""`curator ingest`, `curator items` and `curator feeds`: fetch feeds, see what came in, and how feeds are doing."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from curator import netguard
from curator.cli._app import app, console, console_err, print_json, state
from curator.ingest import FeedReport, IngestReport, check_feeds, run_ingest
from curator.ingest.health import enable, health
from curator.ingest.store_items import stored_items
from curator.opml import read_opml
from curator.sources import FeedSource, add_feeds, load_sources
from curator.store.schema import now as utcnow

feeds_app = typer.Typer(
    help="Feed health, and changes to the feeds of feeds.yaml.", invoke_without_command=True
)
app.add_typer(feeds_app, name="feeds")

SHOWN_UNCHANGED = 20  # a run over thousands of feeds lists the unchanged ones as a count


@app.command("ingest")
def ingest(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list, one object per feed fetched."),
    feed: str = typer.Option(None, "--feed", help="Fetch only this feed (its address in feeds.yaml)."),
) -> None:
    """Fetch the feeds that are due and store their new items. Failing feeds are reported, not fatal."""
    settings = state.settings()
    sources = load_sources(settings.feeds)
    engine = state.engine("ingest")
    if as_json:
        report = run_ingest(settings, engine, sources, only=feed)
        print_json([f.as_json() for f in report.feeds])
        return
    with Progress(
        TextColumn("fetching feeds"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[new]} new items, {task.fields[errors]} errors"), TimeElapsedColumn(),
        console=console_err, transient=True,
    ) as bar:
        task = bar.add_task("ingest", total=None, new=0, errors=0)
        totals = {"new": 0, "errors": 0}

        def progress(done: int, total: int, report: FeedReport | None) -> None:
            if report is not None:
                totals["new"] += report.new_items
                totals["errors"] += report.status == "error"
            bar.update(task, completed=done, total=total, **totals)

        report = run_ingest(settings, engine, sources, progress=progress, only=feed)
    _summary(report)


def _summary(report: IngestReport) -> None:
    feeds = sorted(report.feeds, key=lambda f: (f.status != "error", -f.new_items, f.url))
    shown = [f for f in feeds if f.status == "error" or f.new_items or f.error or f.moved_to]
    quiet = [f for f in feeds if f not in shown]
    table = Table("feed", "status", "new", "stored", "problem", title="Ingest", title_justify="left")
    for f in shown + quiet[: max(0, SHOWN_UNCHANGED - len(shown))]:
        problem = f.error or ""
        if f.moved_to:
            problem = f"moved permanently to {f.moved_to}" + (f"; {problem}" if problem else "")
        if f.skipped_entries:
            problem += f"{'; ' if problem else ''}{f.skipped_entries} entries without a link skipped"
        style = {"error": "red", "not_modified": "dim"}.get(f.status, "")
        table.add_row(f.url, f"[{style}]{f.status}[/]" if style else f.status, str(f.new_items),
                      str(f.total_items), problem)
    if report.feeds:
        console.print(table)
    hidden = len(shown) + len(quiet) - table.row_count
    parts = [
        f"{len(report.feeds)} feeds fetched in {report.seconds:.1f} s",
        f"{report.new_items} new items",
        f"{len(report.errors)} failed" + (" (see the table; `curator feeds` keeps them)" if report.errors else ""),
    ]
    if hidden:
        parts.append(f"{hidden} unchanged feeds not listed")
    if report.not_due:
        parts.append(f"{report.not_due} not due yet (backing off, or asked to wait)")
    if report.disabled:
        parts.append(f"{len(report.disabled)} disabled (`curator feeds` shows why)")
    console.print("; ".join(parts) + ".")


@app.command("items")
def items(
    feed: str = typer.Option(None, "--feed", help="Only items seen in this feed."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many, newest first."),
) -> None:
    """List stored items, newest first: title, address, time, topic hints and summary."""
    engine = state.engine("items")
    with engine.connect() as conn:
        found = stored_items(conn, feed_url=feed, limit=limit)
    if as_json:
        print_json([item.as_json() for item in found])
        return
    if not found:
        console.print("No items stored yet: run `curator ingest`." if feed is None else f"No items from {feed}.")
        return
    table = Table("published", "title", "topics", "address", "summary")
    for item in found:
        summary = item.summary_text if len(item.summary_text) <= 120 else item.summary_text[:119] + "…"
        table.add_row(f"{item.published_at:%Y-%m-%d %H:%M}", item.title, ", ".join(item.topics),
                      item.canonical_url, summary)
    console.print(table)


@feeds_app.callback()
def feeds_health(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Show each feed's health: last fetch, last success, errors in a row, last error, items in 30 days."""
    if ctx.invoked_subcommand is not None:
        return
    settings = state.settings()
    sources = load_sources(settings.feeds)
    now = utcnow()
    rows = health(state.engine("feeds"), [feed.url for feed in sources.feeds], now)
    if as_json:
        print_json([row.as_json() for row in rows])
        return
    table = Table("feed", "status", "last success", "errors", "items 30d", "next fetch", "last error")
    for row in rows:
        status = "disabled" if row.disabled else row.status
        style = "red" if row.disabled or row.status == "error" else ""
        name = row.url if row.fetched_from == row.url else f"{row.url}\n→ {row.fetched_from}"
        table.add_row(
            name, f"[{style}]{status}[/]" if style else status, _ago(row.last_success_at, now),
            str(row.consecutive_errors), str(row.items_30d),
            "" if row.disabled or not row.next_fetch_at or row.next_fetch_at <= now else _ago(row.next_fetch_at, now),
            row.last_error or "",
        )
    console.print(table)


@feeds_app.command("check")
def feeds_check(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Validate feeds.yaml, then fetch and parse each feed once (storing nothing) and report problems."""
    settings = state.settings()
    sources = load_sources(settings.feeds)
    if as_json:
        reports = check_feeds(settings, sources)
        print_json([{**r.as_json(), "entries": r.entries} for r in reports])
    else:
        with console_err.status("checking feeds…"):
            reports = check_feeds(settings, sources)
        table = Table("feed", "status", "entries", "problem")
        for r in reports:
            problem = r.error or ""
            if r.moved_to:
                problem += f"{'; ' if problem else ''}moved permanently to {r.moved_to}: update feeds.yaml"
            table.add_row(r.url, r.status, str(r.entries), problem)
        console.print(f"{settings.feeds}: {len(sources.topics)} topics, {len(sources.feeds)} feeds, valid.")
        if reports:
            console.print(table)
    if any(r.error or r.moved_to for r in reports):
        # SystemExit, not typer.Exit: `curator.cli.main` runs click without standalone mode, which swallows Exit.
        raise SystemExit(1)


@feeds_app.command("import")
def feeds_import(
    opml: Path = typer.Argument(..., help="An OPML file (a reader's export)."),
    topic: str = typer.Option(None, "--topic", help="Topic hint for every imported feed."),
) -> None:
    """Add an OPML file's feeds to feeds.yaml; feeds already listed are left as they are."""
    settings = state.settings()
    sources = load_sources(settings.feeds)
    if topic is not None:
        sources.topic(topic)  # NotFound names the declared topics
    wanted, refused, private = [], [], []
    guard = None if settings.fetch_allow_private else netguard.Guard()
    for outline in read_opml(opml):
        hint = topic or _slug(outline.category)
        topics = [hint] if hint in sources.topic_names else []
        try:
            source = FeedSource(url=outline.url, title=outline.title, topics=topics)
        except ValidationError:
            refused.append(outline.url)
            continue
        blocked = guard and netguard.refusal(outline.url, guard)
        if blocked:
            private.append((outline.url, blocked))
        else:
            wanted.append(source)
    added = add_feeds(settings.feeds, wanted)
    console.print(
        f"Added {len(added)} feeds to {settings.feeds}; {len(wanted) - len(added)} were listed already."
    )
    for url in refused:
        console_err.print(f"skipped {url!r}: not an http(s) address", highlight=False)
    for url, why in private:
        console_err.print(
            f"refused {url!r}: {why}. If it is on your own network, set CURATOR_FETCH_ALLOW_PRIVATE=true "
            "and import again", highlight=False,
        )


@feeds_app.command("enable")
def feeds_enable(url: str = typer.Argument(..., help="The feed's address, as feeds.yaml or `curator feeds` shows it.")):
    """Re-enable a feed disabled after repeated errors; the next `curator ingest` fetches it."""
    feed = enable(state.engine("feeds enable"), url)
    console.print(f"Enabled {feed.source_url or feed.url}: the next `curator ingest` fetches it.")


def _slug(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")


def _ago(when: datetime | None, now: datetime) -> str:
    """A time as a short distance from now: '3 h ago', 'in 20 min'."""
    if when is None:
        return "never"
    seconds = (now - when).total_seconds()
    ahead, seconds = seconds < 0, abs(seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            text = f"{seconds // size:.0f} {unit}"
            break
    else:
        text = "now" if seconds < 1 else f"{seconds:.0f} s"
    return text if text == "now" else (f"in {text}" if ahead else f"{text} ago")
