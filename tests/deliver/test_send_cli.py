"""`curator send`, `worker`, `status`, `pause`, `resume`, `cancel`, `retry` from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from curator import deliver
from curator.errors import ConfigError, CuratorError, SendRefused
from curator.store.schema import deliveries, issues
from tests.conftest import REPO
from tests.deliver.helpers import PERIOD, add_audience


@pytest.fixture
def env(settings):
    return {
        "CURATOR_DATABASE_URL": settings.database_url, "CURATOR_SECRET_KEY": settings.secret_key,
        "CURATOR_OUTBOX_DIR": str(settings.outbox_dir), "CURATOR_BASE_URL": settings.base_url,
        "CURATOR_FEEDS": str(settings.feeds),
    }  # fmt: skip


@pytest.fixture
def cli(env):
    from curator.cli import app as cli_app
    from curator.cli._app import state

    runner = CliRunner()

    def run(*args: str, extra: dict | None = None):
        try:
            return runner.invoke(cli_app, list(args), env={**env, **(extra or {})})
        finally:
            if state._engine is not None:
                state._engine.dispose()

    return run


def _rows(engine):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(deliveries)).scalar_one()


def test_send_sends_everyone_once_and_status_reports_it(cli, engine, issue, settings):
    add_audience(engine, 12, variants=3)
    result = cli("send", PERIOD, "--yes")
    assert result.exit_code == 0, result.output
    assert "Froze the audience of 2026-05: 12 recipients" in result.output
    assert "2026-05 is sent: 12 sent, 0 failed" in result.output
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 12
    status = cli("status", PERIOD, "--json")
    data = json.loads(status.stdout.strip().splitlines()[-1])
    assert data["status"] == "sent" and data["counts"]["sent"] == 12 and data["total"] == 12
    assert set(data["deliverability"]) >= {"delivered", "bounced", "opened", "clicked", "complained", "unsubscribed"}
    table = cli("status", PERIOD)
    assert "recipients/s" in table.output and "time left" in table.output
    again = cli("send", PERIOD, "--yes")
    assert again.exit_code == 0, again.output  # done is not an error
    assert f"Issue {PERIOD} was sent on " in again.output and "12 sent" in again.output
    assert "nothing more was sent" in again.output
    checked = cli("send", PERIOD, "--dry-run")
    assert checked.exit_code == 0 and "was sent on" in checked.output and "nothing to check" in checked.output
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 12


def test_an_unapproved_issue_is_refused_naming_the_approve_command(cli, engine, issue):
    with engine.begin() as conn:
        conn.execute(update(issues).values(status="in_review"))
    result = cli("send", PERIOD, "--yes")
    assert isinstance(result.exception, CuratorError)
    assert "curator approve 2026-05" in str(result.exception)
    assert _rows(engine) == 0


def test_dry_run_renders_every_variant_and_sends_nothing(cli, engine, issue, settings):
    add_audience(engine, 9, variants=3)
    result = cli("send", PERIOD, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "9 recipients in 3 variants" in result.output and "Growth resources for May 2026" in result.output
    assert _rows(engine) == 0 and not settings.outbox_dir.exists()
    with engine.connect() as conn:
        assert conn.execute(select(issues.c.status)).scalar() == "approved"


def test_to_sends_one_test_copy_without_a_ledger(cli, engine, issue, settings):
    result = cli("send", PERIOD, "--to", "ed@example.com", "--topics", "leadership,career")
    assert result.exit_code == 0, result.output
    [path] = settings.outbox_dir.glob("*.eml")
    assert "Subject: [TEST] Growth resources" in path.read_text()
    assert _rows(engine) == 0
    unknown = cli("send", PERIOD, "--to", "ed@example.com", "--topics", "knitting")
    assert isinstance(unknown.exception, ConfigError) and "knitting" in str(unknown.exception)


def test_more_than_one_worker_on_sqlite_is_refused(cli, engine, issue, settings):
    if not settings.is_sqlite:
        pytest.skip("SQLite only")
    result = cli("send", PERIOD, "--yes", "--workers", "3")
    assert isinstance(result.exception, ConfigError) and "PostgreSQL" in str(result.exception)


def test_pause_resume_cancel_and_retry(cli, engine, issue):
    add_audience(engine, 5, variants=1)
    deliver.start(engine, PERIOD, "ops")  # the send started elsewhere: frozen, not yet claimed
    assert cli("pause", PERIOD).exit_code == 0
    assert cli("worker", "--once", "--period", PERIOD).exit_code == 0  # paused: nothing claimed
    assert _rows_in(engine, "pending") == 5
    assert cli("resume", PERIOD).exit_code == 0
    assert cli("cancel", PERIOD, "--yes").exit_code == 0
    assert _rows_in(engine, "cancelled") == 5
    refused = cli("retry", PERIOD)
    assert "cancelled" in str(refused.exception)


def test_worker_sends_and_retry_queues_failures(cli, engine, issue):
    add_audience(engine, 4, variants=1)
    deliver.start(engine, PERIOD, "ops")
    result = cli("worker")
    assert result.exit_code == 0 and "4 sent" in result.output and "finished 2026-05" in result.output
    with engine.begin() as conn:
        conn.execute(update(deliveries).values(state="failed", error="SendGrid answered 400: x"))
    result = cli("retry", PERIOD)
    assert result.exit_code == 0 and "Queued 4 failed recipients" in result.output
    assert "4 sent" in cli("worker", "--period", PERIOD).output


def test_a_refused_key_exits_2_with_the_message(env, engine, issue, sg):
    add_audience(engine, 2, variants=1)
    extra = {"CURATOR_DELIVERY": "sendgrid", "CURATOR_SENDGRID_API_KEY": "SG.wrong", "CURATOR_SENDGRID_HOST": sg.url}
    done = subprocess.run(
        [sys.executable, "-m", "curator", "send", PERIOD, "--yes"], env={**os.environ, **env, **extra},
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "SendGrid refused the API key (401): check CURATOR_SENDGRID_API_KEY" in " ".join(done.stderr.split())
    assert _rows_in(engine, "pending") == 2


HEAVY_MODULES = ("numpy", "wordllama", "curator.curate", "curator.ingest", "curator.web", "fastapi")


def test_a_worker_process_sends_without_the_curation_stack(env, engine, issue, sg, tmp_path):
    """`curator worker` imports its own verbs only: numpy and the embedding model stay out (memory per worker)."""
    add_audience(engine, 6, variants=2)
    deliver.start(engine, PERIOD, "ops")
    extra = {"CURATOR_DELIVERY": "sendgrid", "CURATOR_SENDGRID_API_KEY": "SG.test", "CURATOR_SENDGRID_HOST": sg.url}
    loaded = tmp_path / "modules.json"
    probe = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(loaded)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
        "sys.argv = ['curator', 'worker', '--period', sys.argv[1]]\n"
        "from curator.cli import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, PERIOD], env={**os.environ, **env, **extra},
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "6 sent" in done.stdout and len(sg.recipients()) == 6
    modules = set(json.loads(loaded.read_text()))
    assert "curator.deliver.worker" in modules and "curator.cli.send" in modules  # the probe saw a real worker
    assert not [m for m in modules if m.split(".")[0] in HEAVY_MODULES or m.startswith(HEAVY_MODULES[2:])]
    assert not any(m.startswith("curator.cli.") and m not in ("curator.cli._app", "curator.cli.send") for m in modules)


def test_the_verb_table_names_every_verb_and_its_module(cli):
    """Verbs load lazily from VERB_MODULES: a verb missing from it would be unreachable."""
    import importlib
    import pkgutil

    import typer

    import curator.cli as package
    from curator.cli._app import VERB_MODULES, app

    modules = sorted(info.name for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_"))
    assert sorted(set(VERB_MODULES.values())) == modules
    for module in modules:
        importlib.import_module(f"curator.cli.{module}")
    registered = typer.main.get_command(app).commands
    assert set(registered) == set(VERB_MODULES)

    def home(command) -> str:  # the module whose function the verb (or its group's first verb) runs
        while command.callback is None:
            command = next(iter(command.commands.values()))
        return command.callback.__module__.removeprefix("curator.cli.")

    assert {verb: home(command) for verb, command in registered.items()} == VERB_MODULES
    assert cli("worker", "--help").exit_code == 0 and "Send batches" in cli("worker", "--help").output


def _rows_in(engine, state):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).where(deliveries.c.state == state)).scalar_one()


def test_send_without_a_terminal_needs_yes(cli, engine, issue):
    add_audience(engine, 3)
    result = cli("send", PERIOD)
    assert isinstance(result.exception, CuratorError)
    assert "add --yes to send from a script" in str(result.exception)
    assert _rows(engine) == 0


def test_cancel_without_a_terminal_needs_yes(cli, engine, issue):
    result = cli("cancel", PERIOD)
    assert isinstance(result.exception, CuratorError) and "add --yes" in str(result.exception)
    with engine.connect() as conn:
        assert conn.execute(select(issues.c.status)).scalar_one() == "approved"


def test_a_real_send_in_sandbox_mode_is_refused_before_anything_is_frozen(cli, engine, issue):
    add_audience(engine, 3)
    result = cli("send", PERIOD, "--yes", extra={"CURATOR_DELIVERY": "sandbox", "CURATOR_SENDGRID_API_KEY": "SG.x"})
    assert isinstance(result.exception, ConfigError)
    assert "--dry-run" in str(result.exception) and "CURATOR_DELIVERY=sendgrid" in str(result.exception)
    assert _rows(engine) == 0


def test_a_real_sendgrid_send_needs_an_https_base_url(cli, engine, issue):
    add_audience(engine, 3)
    extra = {"CURATOR_DELIVERY": "sendgrid", "CURATOR_SENDGRID_API_KEY": "SG.x", "CURATOR_BASE_URL": "http://x.org"}
    result = cli("send", PERIOD, "--yes", extra=extra)
    assert isinstance(result.exception, SendRefused) and "must be https" in str(result.exception)
    assert _rows(engine) == 0


def test_the_dry_run_checks_an_issue_before_approval_and_only_warns_about_http_for_the_outbox(cli, engine, issue):
    add_audience(engine, 3)
    with engine.begin() as conn:
        conn.execute(update(issues).values(status="in_review"))
    result = cli("send", PERIOD, "--dry-run", extra={"CURATOR_BASE_URL": "http://localhost:8000"})
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "https" in result.output
    assert "approve it before sending" in result.output
    assert _rows(engine) == 0
