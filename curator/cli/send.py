"""`curator send`, `worker`, `status`, `pause`, `resume`, `cancel` and `retry`: sending an issue."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from curator import deliver, editorial
from curator.cli._app import PERIOD_HELP, actor, app, console, console_err, print_json, state
from curator.config import Settings
from curator.errors import ConfigError, CuratorError, DeliveryError

FINAL = ("sent", "failed", "skipped", "cancelled")



def _require(settings: Settings, command: str) -> None:
    """What every send needs: signed links, and a key for SendGrid."""
    names = ("sendgrid_api_key", "secret_key") if settings.delivery in ("sendgrid", "sandbox") else ("secret_key",)
    settings.require(*names, command=command)


@app.command("send")
def send(
    period: str = typer.Argument(..., help=PERIOD_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Render every variant and check everything; send nothing."),
    to: str = typer.Option(None, "--to", help="Send one [TEST] copy to this address instead (no ledger).",
                           show_default=False),
    topics: str = typer.Option(None, "--topics", help="With --to: the topic set to render, comma separated.",
                               show_default=False),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (more than one needs PostgreSQL)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Send the approved issue to every active subscriber, each once, through the configured backend."""
    settings = state.settings()
    period = editorial.parse_period(period)
    _require(settings, "send")
    if to:
        _send_test(settings, period, to, topics)
        return
    if _already_sent(period, dry_run):
        return
    if dry_run:
        _dry_run(settings, period)
        return
    if settings.delivery == "sandbox":
        raise ConfigError(
            "CURATOR_DELIVERY=sandbox makes SendGrid validate without delivering, so a real send would use up "
            f"the issue and reach nobody: run `curator send {period} --dry-run` (SendGrid checks one request per "
            "variant) or `--to ADDRESS`, then set CURATOR_DELIVERY=sendgrid to send"
        )
    if workers > 1 and settings.is_sqlite:
        raise ConfigError(
            f"--workers {workers} needs PostgreSQL: SQLite has one writer, so more workers would only wait. "
            "Set CURATOR_DATABASE_URL=postgresql+psycopg://... (then `curator db upgrade`), or use one worker."
        )
    engine = state.engine("send")
    if not _confirmed(engine, period, yes, settings):
        console.print("Nothing was sent.")
        raise typer.Exit(1)
    started = deliver.start(engine, period, actor(), settings)
    if started.resumed:
        console.print(f"Continuing the send of {period} (the audience was frozen when it started).")
    else:
        console.print(f"Froze the audience of {period}: {started.frozen} recipients. Sending with {settings.delivery}.")
    if workers == 1:
        _run_here(settings, engine, period)
    else:
        _run_processes(settings, engine, period, workers)
    _summary(engine, period)


def _already_sent(period: str, dry_run: bool) -> bool:
    """An issue sent in full is done, not an error: say so, with its counts (exit 0)."""
    current = deliver.status(state.engine("send"), period)
    if current.status != "sent" or current.waiting:
        return False
    when = f" on {current.sent_at:%Y-%m-%d %H:%M} UTC" if current.sent_at else ""
    counts = current.counts
    console.print(
        f"Issue {period} was sent{when}: {counts['sent']} sent, {counts['failed']} failed, "
        f"{counts['skipped']} skipped. An issue is sent at most once, so "
        f"{'there is nothing to check' if dry_run else 'nothing more was sent'}. "
        f"`curator status {period}` shows its deliverability"
        + (f"; `curator retry {period}` queues the failures again." if counts["failed"] else "."),
        highlight=False,
    )
    return True


def _send_test(settings: Settings, period: str, to: str, topics: str | None) -> None:
    from curator.sources import load_sources

    known = load_sources(settings.feeds).topic_names
    chosen = [t.strip() for t in (topics or "").split(",") if t.strip()]
    if unknown := [t for t in chosen if t not in known]:
        raise ConfigError(f"--topics: unknown {', '.join(unknown)}; the topics are {', '.join(known)}")
    address = deliver.send_test(settings, state.engine("send"), period, to, chosen or known, actor="cli")
    where = f" into {settings.outbox_dir}" if settings.delivery == "outbox" else f" through {settings.delivery}"
    console.print(f"Sent one {deliver.TEST_PREFIX.strip()} copy of {period} to {address}{where}; no ledger row.")


def _dry_run(settings: Settings, period: str) -> None:
    report = deliver.dry_run(settings, state.engine("send"), period)
    table = Table("variant (topics)", "recipients", "subject of its first recipient", title=f"Dry run of {period}")
    for variant, count, subject in report.variants:
        table.add_row(variant or "(all topics)", str(count), subject)
    console.print(table)
    console.print(f"{report.total} recipients in {len(report.variants)} variants; "
                  f"{-(-report.total // settings.send_batch_size) if report.total else 0}+ requests. Nothing was sent.")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    if report.status in ("draft", "in_review"):
        console.print(f"Issue {period} is {report.status.replace('_', ' ')}: checked with its suggested picks; "
                      f"approve it before sending (`curator approve {period}`).")
    if report.problems:
        raise CuratorError("the dry run found problems:\n- " + "\n- ".join(report.problems))
    console.print("No problems found.")


def _confirmed(engine, period: str, yes: bool, settings: Settings) -> bool:
    """Show who would get it and ask; --yes skips the question, and without a terminal it is required."""
    with engine.connect() as conn:
        issue = editorial.get_issue(conn, period)
    deliver.refuse_unapproved(issue)
    if yes:
        return True
    if not sys.stdin.isatty():
        raise CuratorError(
            f"`curator send {period}` asks before sending and there is no terminal to ask in: "
            "add --yes to send from a script"
        )
    if issue["status"] == "approved":
        size = deliver.audience_size(engine)
        console.print(f"Issue {period} ({issue['subject']!r}) goes to [bold]{size}[/] active subscribers "
                      f"through {settings.delivery}.")
    else:
        current = deliver.status(engine, period)
        console.print(f"Issue {period} is {issue['status']}: {current.waiting} of {current.total} recipients left.")
    return typer.confirm("Send it now?", default=False)


@contextmanager
def _progress(engine, period: str):
    first = deliver.status(engine, period)
    done0 = sum(first.counts[s] for s in FINAL)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]:>8.0f}/s"), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(f"sending {period}", total=first.total, completed=done0, rate=0.0)
        began = time.monotonic()

        def update(done: int) -> None:
            elapsed = max(time.monotonic() - began, 1e-6)
            bar.update(task, completed=done, rate=(done - done0) / elapsed)

        yield update, done0


def _run_here(settings: Settings, engine, period: str) -> None:
    """One worker in this process; the bar follows its own counts (no polling of the ledger)."""
    stop = threading.Event()
    with _progress(engine, period) as (update, done0), _stop_on_signals(stop):
        worker = deliver.Worker(
            settings, engine, period=period, stop=stop,
            on_progress=lambda r: update(done0 + r.sent + r.failed + r.skipped),
        )  # fmt: skip
        worker.run()


def _run_processes(settings: Settings, engine, period: str, count: int) -> None:
    """N `curator worker` processes; the bar follows the ledger."""
    command = [sys.executable, "-m", "curator"]
    for flag, name in (("--database-url", "database_url"), ("--feeds", "feeds")):
        if state.overrides.get(name):
            command += [flag, str(state.overrides[name])]
    command += ["worker", "--period", period]
    with ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(count)]
        procs = [subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT) for log in logs]
        try:
            with _progress(engine, period) as (update, _):
                while any(p.poll() is None for p in procs):
                    update(sum(deliver.status(engine, period).counts[s] for s in FINAL))
                    time.sleep(0.5)
                update(sum(deliver.status(engine, period).counts[s] for s in FINAL))
        except BaseException:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)  # each finishes its batch, then stops
            raise
        finally:
            for p in procs:
                p.wait()
        failures: dict[str, list[int]] = {}  # the same error from several workers is told once
        for p, log in zip(procs, logs, strict=True):
            if p.returncode:
                log.seek(0)
                lines = [line for line in log.read().decode(errors="replace").splitlines() if line.strip()]
                failures.setdefault(" ".join(lines[-3:]) or f"exit code {p.returncode}", []).append(p.pid)
    if failures:
        raise DeliveryError("\n".join(f"worker {', '.join(map(str, pids))}: {text.removeprefix('error: ')}"
                                      for text, pids in failures.items()))


@contextmanager
def _stop_on_signals(stop: threading.Event):
    """SIGTERM or a first Ctrl-C: finish the batch in hand, then stop. A second Ctrl-C stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def ask(signum, _frame) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        console_err.print("stopping after the current batch (Ctrl-C again to stop now)")

    previous = {s: signal.signal(s, ask) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _summary(engine, period: str) -> None:
    current = deliver.status(engine, period)
    counts = current.counts
    console.print(
        f"{period} is {current.status}: {counts['sent']} sent, {counts['failed']} failed, "
        f"{counts['skipped']} skipped, {counts['uncertain']} uncertain, {counts['pending']} pending."
    )
    if counts["failed"]:
        console.print(f"`curator status {period}` shows why; `curator retry {period}` sends the failures again.")
    if counts["uncertain"]:
        console.print("Uncertain rows wait for SendGrid's events; a `curator worker` settles them.")


@app.command("worker")
def worker(
    once: bool = typer.Option(False, "--once", help="One pass: send what can be claimed now, then exit."),
    period: str = typer.Option(None, "--period", help="Only this issue (default: every issue being sent).",
                               show_default=False),
) -> None:
    """Send batches of every issue being sent, until none is left; run as many as you like on PostgreSQL."""
    settings = state.settings()
    _require(settings, "worker")
    if period:
        editorial.parse_period(period)
    engine = state.engine("worker")
    stop = threading.Event()
    with _stop_on_signals(stop):
        report = deliver.Worker(settings, engine, period=period, stop=stop).run(once=once)
    finished = f"; finished {', '.join(report.finished)}" if report.finished else ""
    console.print(
        f"worker: {report.batches} batches, {report.requests} requests, {report.sent} sent, {report.failed} failed, "
        f"{report.skipped} skipped, {report.uncertain} uncertain{finished}"
    )


@app.command("status")
def status(
    period: str = typer.Argument(..., help=PERIOD_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Where a send is: counts by state, the rate, the time left, and SendGrid's deliverability counts."""
    period = editorial.parse_period(period)
    current = deliver.status(state.engine("status"), period)
    if as_json:
        print_json(current.as_json())
        return
    table = Table("state", "recipients", title=f"Send of {period}: {current.status}")
    for name, n in current.counts.items():
        table.add_row(name, str(n))
    table.add_row("[bold]total", f"[bold]{current.total}")
    console.print(table)
    left = "unknown (nothing moving)" if current.seconds_left is None else f"{current.seconds_left:.0f} s"
    console.print(f"rate: {current.rate:.1f} recipients/s over the last minute; time left: {left}")
    console.print("deliverability: " + ", ".join(f"{k} {v}" for k, v in current.deliverability.items()))
    if current.batches:
        console.print("batches: " + ", ".join(f"{k} {v}" for k, v in sorted(current.batches.items())))


@app.command("pause")
def pause(period: str = typer.Argument(..., help=PERIOD_HELP)) -> None:
    """Pause a send: workers stop claiming after their current batch."""
    deliver.pause(state.engine("pause"), editorial.parse_period(period), actor())
    console.print(f"Paused {period}; batches in flight finish. `curator resume {period}` continues.")


@app.command("resume")
def resume(period: str = typer.Argument(..., help=PERIOD_HELP)) -> None:
    """Resume a paused send: running workers pick it up again."""
    deliver.resume(state.engine("resume"), editorial.parse_period(period), actor())
    console.print(f"Resumed {period}. Running workers continue; if none runs, start one with `curator worker`.")


@app.command("cancel")
def cancel(
    period: str = typer.Argument(..., help=PERIOD_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Cancel an issue: nobody not yet sent it gets it (batches in flight finish)."""
    period = editorial.parse_period(period)
    if not yes and not sys.stdin.isatty():
        raise CuratorError(f"`curator cancel {period}` asks first and there is no terminal: add --yes")
    if not yes and not typer.confirm(f"Cancel {period} for good?", default=False):
        raise typer.Exit(1)
    count = deliver.cancel(state.engine("cancel"), period, actor())
    console.print(f"Cancelled {period}; {count} recipients will not get it.")


@app.command("retry")
def retry(period: str = typer.Argument(..., help=PERIOD_HELP)) -> None:
    """Queue a send's failed recipients again; the next worker sends them."""
    count = deliver.retry(state.engine("retry"), editorial.parse_period(period), actor())
    console.print(f"Queued {count} failed recipients of {period} again: `curator worker --period {period}` sends them.")
