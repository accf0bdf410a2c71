"""`curator demo`: the whole monthly issue, offline, from example feeds to .eml files."""

from __future__ import annotations

import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from curator import deliver, editorial, render, store, subscribers
from curator.cli._app import app, console, state
from curator.config import load_settings, resource_path
from curator.curate import build_draft
from curator.demo_feeds import write_demo_feeds, write_demo_sources
from curator.ingest import run_ingest
from curator.sources import load_sources

ACTOR = "demo"
DEMO_SECRET = "demo-secret-not-for-production"
DEMO_SUBSCRIBERS = (
    ("ada@example.com", "Ada", ("machine-learning", "software-engineering")),
    ("grace@example.org", "Grace", ("leadership", "career")),
    ("linus@example.net", "Linus", ("software-engineering",)),
    ("maya@example.com", "Maya", ("learning", "productivity", "personal-growth")),
    ("sam@example.org", "", ()),
)
DEMO_PREHEADER = "Salary talks, code review, transformers and one-on-ones: this month's best reads."
DEMO_INTRO = (
    "Welcome to this month's issue. Your topics come first; everything else follows, "
    "in case something catches your eye."
)
# What a previous demo left in the folder; nothing else there is touched.
DEMO_FILES = (
    "curator.db", "curator.db-wal", "curator.db-shm", "feeds.yaml", "preview.html", "preview.txt", "demo.env",
)
DEMO_DIRS = ("feeds", "outbox")


@app.command("demo")
def demo(
    folder: Path = typer.Option(Path("demo"), "--dir", help="Folder for the demo's database, feeds and outbox."),
    review: bool = typer.Option(
        False, "--review", help="Stop once the draft is built, so you approve and send it in the desk and console."
    ),
) -> None:
    """Run the whole monthly issue offline: ingest example feeds, draft, approve, subscribe, send to an outbox.

    Uses SQLite and an outbox folder inside DIR, whatever CURATOR_DATABASE_URL and
    CURATOR_DELIVERY say; a previous demo in DIR is replaced. DIR/demo.env holds the
    settings that point other commands (serve, worker, ingest) at the demo.
    """
    started = time.monotonic()
    folder = folder.resolve()
    _clear(folder)
    now = datetime.now(state.settings().tz)
    period = f"{now:%Y-%m}"
    sources_path = folder / "feeds.yaml"
    write_demo_sources(sources_path, resource_path("feeds.yaml"), write_demo_feeds(folder / "feeds", now))
    settings = load_settings(
        database_url=f"sqlite:///{folder / 'curator.db'}", feeds=sources_path, delivery="outbox",
        outbox_dir=folder / "outbox", allow_file_feeds=True,
        secret_key=state.settings().secret_key or DEMO_SECRET,
        timezone=state.settings().timezone, base_url=state.settings().base_url,
    )
    sources = load_sources(sources_path)
    env_file = _write_env(folder, settings)
    engine = store.make_engine(settings.database_url)
    try:
        store.upgrade(engine)
        console.print(f"[bold]1. Ingest[/] {len(sources.feeds)} example feeds (RSS, Atom, JSON Feed)")
        with _bar("feeds") as bar:
            task = bar.add_task("ingest", total=len(sources.feeds))
            report = run_ingest(
                settings, engine, sources, progress=lambda done, _total, _report: bar.update(task, completed=done)
            )
        console.print(f"[bold]2. Draft[/] the {period} issue")
        draft = build_draft(engine, settings, sources, period, actor=ACTOR)
        with engine.begin() as conn:
            issue = editorial.get_issue(conn, period)
            editorial.edit_issue(
                conn, period, ACTOR, subject=issue["subject"], preheader=DEMO_PREHEADER, intro=DEMO_INTRO
            )
            for email, name, topics in DEMO_SUBSCRIBERS:
                subscribers.add(conn, email, name=name, topics=topics, known_topics=sources.topic_names, source="demo")
        if review:
            _stop_for_review(folder, env_file, period, draft)
            return
        console.print("[bold]3. Approve[/] the suggested picks and the issue")
        with engine.begin() as conn:
            editorial.approve_all(conn, period, {t.name: t.quota for t in sources.topics}, ACTOR)
            warnings = editorial.approve_issue(conn, period, ACTOR, [(t.name, t.title) for t in sources.topics])
        for warning in warnings:
            console.print(f"   [yellow]warning:[/] {warning}")
        console.print(f"[bold]4. Send[/] to {len(DEMO_SUBSCRIBERS)} demo subscribers through the outbox")
        deliver.start(engine, period, ACTOR)
        sent = deliver.Worker(settings, engine, period=period).run()
        preview = _write_preview(folder, settings, engine, period, sources)
        _summary(report, draft, sent, settings, engine, period, preview, time.monotonic() - started)
        _next_steps(folder, env_file)
    finally:
        engine.dispose()


def _clear(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:
        (folder / name).unlink(missing_ok=True)
    for name in DEMO_DIRS:
        shutil.rmtree(folder / name, ignore_errors=True)


def _bar(unit: str) -> Progress:
    return Progress(
        TextColumn("   "), BarColumn(), MofNCompleteColumn(), TextColumn(unit), console=console, transient=True
    )


def _write_preview(folder: Path, settings, engine, period: str, sources) -> Path:
    """The issue as the first demo subscriber sees it, to open in a browser."""
    with engine.connect() as conn:
        content = editorial.issue_content(conn, period, [(t.name, t.title) for t in sources.topics])
        reader = subscribers.find(conn, DEMO_SUBSCRIBERS[0][0])
    rendered = render.render_for(content, reader, settings)
    path = folder / "preview.html"
    path.write_text(rendered.html, encoding="utf-8")
    (folder / "preview.txt").write_text(rendered.text, encoding="utf-8")
    return path


def _summary(report, draft, sent, settings, engine, period, preview: Path, seconds: float) -> None:
    with engine.connect() as conn:
        picks = editorial.list_picks(conn, period)
    approved: dict[str, int] = {}
    for pick in picks:
        if pick["decision"] == "approved":
            approved[pick["topic"]] = approved.get(pick["topic"], 0) + 1
    table = Table("topic", "candidates", "approved", title=f"Issue {period}")
    for topic in draft.topics:
        table.add_row(topic.name, str(topic.candidates), str(approved.get(topic.name, 0)))
    console.print(table)
    emails = sorted(Path(settings.outbox_dir).glob("*.eml"))
    errors = len(report.errors)
    console.print(
        f"Feeds read: {len(report.feeds)} ({errors} with errors) · items stored: {report.new_items} · "
        f"picks approved: {sum(approved.values())} · emails written: {len(emails)} (sent {sent.sent}, "
        f"failed {sent.failed}) · {seconds:.1f} s"
    )
    console.print(f"Outbox:  {settings.outbox_dir}/")
    console.print(f"Preview: {preview}")


def _write_env(folder: Path, settings) -> Path:
    """Settings that point any command at the demo: `set -a; . DIR/demo.env; set +a`."""
    path = folder / "demo.env"
    path.write_text(
        "# Written by `curator demo`: load with `set -a; . " + str(path) + "; set +a`\n"
        f"CURATOR_DATABASE_URL={settings.database_url}\n"
        f"CURATOR_FEEDS={settings.feeds}\n"
        "CURATOR_ALLOW_FILE_FEEDS=true\n"
        "CURATOR_DELIVERY=outbox\n"
        f"CURATOR_OUTBOX_DIR={settings.outbox_dir}\n"
        f"CURATOR_SECRET_KEY={settings.secret_key}\n",
        encoding="utf-8",
    )
    return path


def _stop_for_review(folder: Path, env_file: Path, period: str, draft) -> None:
    console.print(
        f"The {period} issue is drafted with {draft.added} candidates and waits for an editor; "
        f"{len(DEMO_SUBSCRIBERS)} demo subscribers wait for it."
    )
    _next_steps(folder, env_file)


def _next_steps(folder: Path, env_file: Path) -> None:
    curator = _curator_command()
    console.print(
        "\n[bold]Try the desk and the console[/] (in this shell):\n"
        f"  set -a; . {env_file}; set +a\n"
        f"  {curator} users add you@example.com --role admin\n"
        f"  {curator} serve            # then open http://localhost:8000/desk\n"
        f"Sends started from the console are delivered by `{curator} worker` (or the scheduler).",
        highlight=False,
    )


def _curator_command() -> str:
    """`curator` when the shell finds this one; else its path (after `make demo`, .venv is not on PATH)."""
    here = Path(sys.argv[0]).resolve()
    found = shutil.which("curator")
    if here.name != "curator" or (found and Path(found).resolve() == here):
        return "curator"
    try:
        return str(here.relative_to(Path.cwd()))
    except ValueError:
        return str(here)
