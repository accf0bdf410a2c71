"""`curator draft`, `picks`, `approve` and `pick`: the editor's work from the command line."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from curator import editorial, pick_edits, review
from curator.cli._app import PERIOD_HELP, actor, app, console, print_json, state
from curator.curate import build_draft, explain
from curator.ingest.article import fetch_for_issue
from curator.sources import load_sources

pick_app = typer.Typer(help="Approve, reject or move one pick.", no_args_is_help=True)
app.add_typer(pick_app, name="pick")




def _period(period: str | None) -> str:
    if period:
        return editorial.parse_period(period)
    return editorial.coming_period(datetime.now(state.settings().tz))


@app.command("draft")
def draft(
    period: str = typer.Argument(
        None, help="The issue's month, YYYY-MM; default the coming month.", show_default=False
    ),
) -> None:
    """Build or refresh an issue's draft: score recent items and add the best candidates per topic."""
    settings = state.settings()
    sources = load_sources(settings.feeds)
    period = _period(period)
    result = build_draft(state.engine("draft"), settings, sources, period, actor=actor())
    if settings.fetch_articles:
        read = fetch_for_issue(settings, state.engine("draft"), period)
        console.print(f"Read {read.read} candidates' articles ({len(read.failed)} unreadable, "
                      f"{len(read.disallowed)} disallowed by robots.txt).")
    table = Table("topic", "quota", "candidates", "new", title=f"Draft {period}")
    for topic in result.topics:
        table.add_row(topic.name, str(topic.quota), str(topic.candidates), str(topic.added))
    console.print(table)
    if not result.scored_items:  # nothing new to pick from: say where new items come from
        console.print(
            f"There are no new items since {result.since:%Y-%m-%d %H:%M} UTC (the last issue went out then, or "
            f"nothing was ingested in the last {settings.draft_window_days} days), so the draft has no candidates. "
            f"Run `curator ingest` to fetch the feeds, then `curator draft {period}` again.",
            highlight=False,
        )
        return
    console.print(
        f"Scored {result.scored_items} items published since {result.since:%Y-%m-%d %H:%M} UTC; "
        f"added {result.added} candidates. Next: `curator picks {period}`, or the desk (`curator serve`)."
    )


@app.command("picks")
def picks(
    period: str = typer.Argument(..., help=PERIOD_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List an issue's picks by topic and rank, with their scores and the reasons for them."""
    with state.engine("picks").connect() as conn:
        rows = editorial.list_picks(conn, editorial.parse_period(period))
    keys = ("id", "item", "title", "url", "topic", "rank", "score", "parts", "decision", "blurb")
    if as_json:
        print_json([{**{key: row[key] for key in keys}, "kind": row["parts"].get("page_kind")} for row in rows])
        return
    table = Table("id", "topic", "rank", "decision", "score", "title", "why", title=f"Picks of {period}")
    colour = {"approved": "green", "rejected": "red", "suggested": "yellow"}
    for row in rows:
        table.add_row(
            str(row["id"]), row["topic"], str(row["rank"]), f"[{colour[row['decision']]}]{row['decision']}[/]",
            f"{row['score']:.2f}", row["title"], explain(row["parts"]),
        )
    console.print(table)
    if not rows:
        console.print(f"Issue {period} has no picks yet: `curator draft {period}` adds candidates from the items "
                      "ingested (`curator ingest` fetches new ones).")


@app.command("approve")
def approve(
    period: str = typer.Argument(..., help=PERIOD_HELP),
    all_: bool = typer.Option(False, "--all", help="First approve every suggested pick within its topic's quota."),
) -> None:
    """Approve an issue for sending (editors cannot send it; ops can)."""
    settings = state.settings()
    sources = load_sources(settings.feeds)
    period = editorial.parse_period(period)
    topics = [(t.name, t.title or t.name) for t in sources.topics]
    with state.engine("approve").begin() as conn:
        if all_:
            count = editorial.approve_all(conn, period, {t.name: t.quota for t in sources.topics}, actor())
            console.print(f"Approved {count} suggested picks within quota.")
        warnings = review.approve_and_learn(conn, period, actor(), topics)
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    console.print(f"Issue {period} is approved.")


def _decide(pick_id: int, decision: str) -> None:
    with state.engine("pick").begin() as conn:
        pick = editorial.decide_pick(conn, pick_id, decision, actor())
    console.print(f"Pick #{pick_id} ({pick['title']}) is {decision}.", highlight=False)


@pick_app.command("approve")
def pick_approve(pick_id: int = typer.Argument(..., help="The pick's id (see `curator picks`).")) -> None:
    """Approve one pick."""
    _decide(pick_id, "approved")


@pick_app.command("reject")
def pick_reject(pick_id: int = typer.Argument(..., help="The pick's id (see `curator picks`).")) -> None:
    """Reject one pick."""
    _decide(pick_id, "rejected")


@pick_app.command("move")
def pick_move(
    pick_id: int = typer.Argument(..., help="The pick's id (see `curator picks`)."),
    topic: str = typer.Argument(..., help="The topic it belongs in (a topic name of feeds.yaml)."),
) -> None:
    """Move one pick to another topic (the editors' taste learns that items like it belong there)."""
    sources = load_sources(state.settings().feeds)
    with state.engine("pick").begin() as conn:
        changed = pick_edits.edit_pick(conn, pick_id, actor(), known_topics=sources.topic_names, topic=topic)
        pick = editorial.get_pick(conn, pick_id)
    if not changed:
        console.print(f"Pick #{pick_id} ({pick['title']}) is already in {topic}.", highlight=False)
        return
    console.print(f"Pick #{pick_id} ({pick['title']}) is now in {topic}.", highlight=False)
