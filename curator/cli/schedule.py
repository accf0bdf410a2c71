"""`curator schedule`: the schedule from settings, the next runs of every job, and the scheduler's leader."""

from __future__ import annotations

import typer
from rich.table import Table

from curator.cli._app import app, console, print_json, state
from curator.errors import CuratorError
from curator.store.schema import now


@app.command("schedule")
def schedule(
    count: int = typer.Option(3, "--count", "-n", min=1, max=100, help="Next runs to show per job."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the jobs of `python -m scheduler`, their next runs (with UTC offsets) and who leads."""
    from scheduler.leader import leader_status
    from scheduler.schedule import describe, format_time, stored_next_runs
    from scheduler.stored import effective

    settings = state.settings()
    describe(settings, now(), count)  # a bad CURATOR_SCHEDULE_* stops here, naming the setting
    leader, stored, unreachable = None, {}, None
    try:  # the schedule is worth showing even before the database exists
        engine = state.engine("schedule")
        settings = effective(settings, engine)  # as ops changed it in the console
        with engine.connect() as conn:
            leader = leader_status(conn, settings.scheduler_lock_timeout)
        stored = stored_next_runs(engine)
    except CuratorError as exc:
        unreachable = str(exc)
    jobs = describe(settings, now(), count)
    if as_json:
        print_json({
            "timezone": settings.timezone,
            "jobs": [job | {"next": [t.isoformat() for t in job["next"]],
                            "scheduled": stored[job["id"]].isoformat() if stored.get(job["id"]) else None}
                     for job in jobs],
            "leader": leader, "database_error": unreachable,
        })  # fmt: skip
        return
    table = Table("job", "cron fields", "next runs", "the scheduler's next run",
                  title=f"Schedule in {settings.timezone}", show_lines=True)
    for job in jobs:
        scheduled = stored.get(job["id"])
        table.add_row(
            f"[bold]{job['id']}[/]\n{job['description']}", f"{job['fields']}\n[dim]{job['setting']}[/]",
            "\n".join(format_time(t) for t in job["next"]),
            format_time(scheduled.astimezone(settings.tz)) if scheduled else "—",
        )
    console.print(table)
    if unreachable:
        console.print(f"The leader is unknown: {unreachable}")
    elif leader is None:
        console.print("No scheduler is running: start `python -m scheduler` (one leader and a standby).")
    else:
        state_ = "running" if leader["alive"] else "[red]silent[/]: check that process"
        console.print(f"Leader: {leader['holder']}, last heartbeat {leader['age_seconds']:.0f} s ago ({state_}).")
