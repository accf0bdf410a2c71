"""`curator report PERIOD`: what readers did with an issue, people first, machines beside them."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from curator import editorial
from curator.cli._app import PERIOD_HELP, app, console, print_json, state
from curator.engagement import export, figures


@app.command("report")
def report(
    period: str = typer.Argument(..., help=PERIOD_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    csv_path: Path = typer.Option(None, "--csv", help="Also write one row per pick to this CSV file.",
                                  show_default=False),
) -> None:
    """An issue's report: delivered, bounced, complaints, unsubscribes, opens and clicks per pick, topic, variant."""
    settings = state.settings()
    with state.engine("report").connect() as conn:
        found = figures.report(conn, editorial.parse_period(period), extra_networks=settings.click_scanner_networks)
    if csv_path is not None:
        csv_path.write_text(export.report_csv(found), encoding="utf-8")
    if as_json:
        print_json(found.as_dict())
        return
    _print(found)
    if csv_path is not None:
        console.print(f"Wrote {len(found.picks)} picks to {csv_path}.")


def _print(r: figures.Report) -> None:
    reasons = ", ".join(f"{why}: {n}" for why, n in sorted(r.unsubscribe_reasons.items())) or "none"
    summary = Table("figure", "people", "machines", title=f"Issue {r.period} ({r.status})")
    summary.add_row("sent", str(r.sent), "")
    summary.add_row("delivered (SendGrid)", str(r.delivered), "")
    summary.add_row("bounced", str(r.bounced), "")
    summary.add_row("complaints", str(r.complaints), "")
    summary.add_row("unsubscribes", f"{r.unsubscribes} ({reasons})", "")
    summary.add_row("opened", str(r.human_opens), str(r.machine_opens))
    summary.add_row("clicked", str(r.human_clickers), str(r.machine_clickers))
    console.print(summary)
    table = Table("topic", "rank", "title", "source", "human clicks", "machine clicks", "more", "less",
                  title="Clicks per pick (unique: one per recipient)")  # fmt: skip
    for p in r.picks:
        table.add_row(p.topic, str(p.rank), p.title, p.source, str(p.human_clicks), str(p.machine_clicks),
                      str(p.more), str(p.less))  # fmt: skip
    console.print(table)
    for name, groups in (("topic", r.topics), ("variant", r.variants)):
        table = Table(name, "recipients", "human clicks", "machine clicks", title=f"Clicks per {name}")
        for g in groups:
            table.add_row(g.name, str(g.recipients), str(g.human_clicks), str(g.machine_clicks))
        console.print(table)
    if r.trend:
        table = Table("issue", "sent", "human openers", "human clickers", title="The last issues")
        for row in r.trend:
            table.add_row(row["period"], str(row["sent"]), str(row["human_opens"]), str(row["human_clickers"]))
        console.print(table)
