"""A real SendGrid send with http:// unsubscribe links is refused on every path, and ops see why."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from curator import alerts, deliver
from curator.errors import SendRefused
from curator.store.schema import deliveries, issues
from curator.web.app import create_app
from scheduler import jobs
from tests.deliver.helpers import PERIOD, add_audience, make_issue
from tests.security.helpers import cli
from tests.web.test_ops import flashes, post, sign_in

HTTP = "http://news.example.org"


@pytest.fixture
def insecure(sg_settings):
    return sg_settings.model_copy(update={"base_url": HTTP})


def _status(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(select(issues.c.status).where(issues.c.period == PERIOD)).scalar_one()


def _refusal_alerted(engine) -> None:
    with engine.connect() as conn:
        found = [a for a in alerts.list_alerts(conn, open_only=True) if a["kind"] == "send_refused"]
    assert len(found) == 1 and "must be https" in found[0]["message"] and HTTP in found[0]["message"]


def test_the_consoles_send_now_is_refused(insecure, engine, issue, sg):
    add_audience(engine, 3)
    with TestClient(create_app(insecure, engine), base_url="https://news.example.org") as client:
        csrf = sign_in(client, engine, "ops")
        post(client, f"/ops/issues/{PERIOD}/send", csrf)
        shown = flashes(client, f"/ops/issues/{PERIOD}")
        alerts_page = client.get("/ops/alerts").text
    assert any(level == "error" and "must be https" in text for level, text in shown), shown
    assert "A send was refused" in alerts_page
    assert _status(engine) == "approved" and sg.accepted == []
    _refusal_alerted(engine)


def test_the_schedulers_send_is_refused(insecure, engine, issue, sg):
    add_audience(engine, 3)
    assert jobs.start(insecure, engine, PERIOD) == "refused"
    assert _status(engine) == "approved" and sg.accepted == []
    _refusal_alerted(engine)


def test_a_worker_refuses_a_send_started_elsewhere(insecure, sg_settings, engine, issue, sg):
    """The send was started by a process with an https BASE_URL; this worker's is http: it sends nothing."""
    add_audience(engine, 3)
    deliver.start(engine, PERIOD, "ops", sg_settings)
    with pytest.raises(SendRefused, match="must be https"):
        deliver.Worker(insecure, engine).run()
    with pytest.raises(SendRefused):  # the scheduler's delivery pass, every minute
        jobs.deliver(insecure, engine)
    assert sg.accepted == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).where(deliveries.c.state == "pending")).scalar_one() == 3
    _refusal_alerted(engine)  # once, however many passes refused


def test_the_command_line_refuses_send_and_worker(insecure, engine, issue, sg):
    add_audience(engine, 3)
    env = {"CURATOR_DATABASE_URL": insecure.database_url, "CURATOR_SECRET_KEY": insecure.secret_key,
           "CURATOR_DELIVERY": "sendgrid", "CURATOR_SENDGRID_API_KEY": "SG.test", "CURATOR_SENDGRID_HOST": sg.url,
           "CURATOR_BASE_URL": HTTP, "CURATOR_FEEDS": str(insecure.feeds)}
    sent = cli("send", PERIOD, "--yes", env=env)
    assert isinstance(sent.exception, SendRefused) and "must be https" in str(sent.exception)
    with engine.begin() as conn:  # as if the console had started it
        conn.execute(update(issues).values(status="sending"))
    worker = cli("worker", "--once", env=env)
    assert isinstance(worker.exception, SendRefused)
    assert sg.accepted == []


def test_the_outbox_only_warns(settings, engine, caplog):
    make_issue(engine)
    add_audience(engine, 2)
    local = settings.model_copy(update={"base_url": "http://localhost:8000"})
    deliver.start(engine, PERIOD, "dev", local)
    report = deliver.Worker(local, engine).run()
    assert report.sent == 2
    assert "a warning only: the outbox backend mails nobody" in caplog.text
