"""The ops console in process: guards, the schedule, alerts, feeds, audit, and a send started, watched, steered."""

from __future__ import annotations

import email
import email.policy
import re
import warnings

import pytest
from sqlalchemy import func, insert, select, update

from curator import alerts, editorial, users
from curator.store.schema import audit_log, deliveries, events, feeds, now
from curator.web import create_app
from scheduler import jobs
from scheduler.leader import RowLock
from tests.deliver.helpers import PERIOD, add_audience, make_issue

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
FLASH = re.compile(r'<div class="flash (\w+)" role="\w+">(.*?)</div>', re.S)


@pytest.fixture
def conf(settings):
    return settings.model_copy(update={"seed_list": ["seed1@example.com", "seed2@example.com"],
                                       "ops_emails": ["ops@example.com"]})


@pytest.fixture
def client(conf, engine):
    with TestClient(create_app(conf, engine), base_url="https://news.example.org") as client:
        yield client


def sign_in(client, engine, role: str) -> str:
    """Sign in as a new user with `role`; returns a CSRF token for the forms."""
    email_ = f"{role}@example.org"
    with engine.begin() as conn:
        users.add_user(conn, email_, role, PASSWORD)
    login = client.get("/login")
    token = TOKEN.search(login.text).group(1)
    response = client.post("/login", data={"email": email_, "password": PASSWORD, "csrf_token": token, "next": ""},
                           follow_redirects=False)
    assert response.status_code == 303
    return TOKEN.search(client.get("/desk" if role == "editor" else "/ops").text).group(1)


@pytest.fixture
def ops(client, engine) -> str:
    return sign_in(client, engine, "ops")


def post(client, path: str, csrf: str | None, **data):
    if csrf is not None:
        data["csrf_token"] = csrf
    return client.post(path, data=data, follow_redirects=False)


def flashes(client, path: str) -> list[tuple[str, str]]:
    return [(level, " ".join(text.split())) for level, text in FLASH.findall(client.get(path).text)]


def outbox_subjects(conf) -> dict[str, str]:
    found = {}
    for path in sorted(conf.outbox_dir.glob("*.eml")) if conf.outbox_dir.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found[message["To"]] = message["Subject"]
    return found


def test_anonymous_visitors_sign_in_first(client):
    response = client.get("/ops", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/ops"


def test_editors_get_403_on_every_ops_page_and_action(client, engine):
    make_issue(engine)
    csrf = sign_in(client, engine, "editor")
    for path in ("/ops", "/ops/schedule", "/ops/feeds", "/ops/audit", "/ops/alerts", "/ops/deliverability",
                 f"/ops/issues/{PERIOD}", f"/ops/issues/{PERIOD}/send", f"/ops/issues/{PERIOD}/progress.json"):
        assert client.get(path).status_code == 403, path
    for action in ("send", "test", "pause", "resume", "cancel", "retry"):
        assert post(client, f"/ops/issues/{PERIOD}/{action}", csrf).status_code == 403, action
    assert post(client, "/ops/alerts/1/ack", csrf).status_code == 403
    assert editorial_status(engine) == "approved"


def editorial_status(engine) -> str:
    with engine.connect() as conn:
        return editorial.get_issue(conn, PERIOD)["status"]


def test_forms_without_the_csrf_token_are_refused(client, engine, ops):
    make_issue(engine)
    add_audience(engine, 3)
    assert post(client, f"/ops/issues/{PERIOD}/send", None).status_code == 403
    assert post(client, f"/ops/issues/{PERIOD}/send", "forged").status_code == 403
    assert editorial_status(engine) == "approved"


def test_the_overview_shows_the_schedule_the_leader_and_open_alerts(client, conf, engine, ops):
    RowLock(engine, "sched-host:77", timeout=60).try_acquire()
    alert_id = alerts.raise_alert(conf, engine, "send_missed", "The send of 2026-05 was missed.", period=PERIOD)
    page = client.get("/ops").text
    assert "sched-host:77" in page and "running" in page
    assert "day=1st tue hour=9 minute=0" in page and "CURATOR_SCHEDULE_SEND" in page
    assert page.count("(09:00 UTC)") >= 3  # the next draft and send runs, with their offsets
    assert "The send of 2026-05 was missed." in page
    assert len(re.findall(r"\+00:00 \(\d\d:\d\d UTC\)", client.get("/ops/schedule").text)) == 60  # 5 jobs x 12

    response = post(client, f"/ops/alerts/{alert_id}/ack", ops, back="/ops/alerts")
    assert response.status_code == 303 and response.headers["location"] == "/ops/alerts"
    assert ("success", "Alert acknowledged.") in flashes(client, "/ops/alerts")
    assert "The send of 2026-05 was missed." not in client.get("/ops").text
    assert "acknowledged" in client.get("/ops/alerts").text


def test_feed_health_puts_failing_feeds_first(client, engine, ops):
    with engine.begin() as conn:
        for row in (
            {"url": "https://fine.example/feed", "title": "Fine Feed", "last_success_at": now()},
            {"url": "https://broken.example/feed", "title": "Broken Feed", "consecutive_errors": 3,
             "last_error": "connection refused", "http_status": 503},
            {"url": "https://gone.example/feed", "title": "Gone Feed", "disabled": True, "consecutive_errors": 10},
        ):
            conn.execute(insert(feeds), row)
    page = client.get("/ops/feeds").text
    assert page.index("Gone Feed") < page.index("Broken Feed") < page.index("Fine Feed")
    assert "connection refused (HTTP 503)" in page
    assert "<strong>2</strong> feeds are failing or disabled" in client.get("/ops").text


def test_the_audit_log_is_paged(client, engine, ops):
    with engine.begin() as conn:
        for i in range(120):
            editorial.audit(conn, "tester", "test.entry", f"entry-{i:03d}")
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
    first = client.get("/ops/audit").text
    assert "entry-119" in first and "entry-070" in first and "entry-069" not in first
    assert f"{total} entries, page 1 of 3" in first and 'rel="next"' in first and 'rel="prev"' not in first
    last = client.get("/ops/audit?page=3").text
    assert 'rel="prev"' in last and 'rel="next"' not in last
    assert client.get("/ops/audit?page=0").status_code == 404


def test_a_test_send_goes_to_the_seed_list(client, conf, engine, ops):
    make_issue(engine)
    response = post(client, f"/ops/issues/{PERIOD}/test", ops)
    assert response.status_code == 303
    sent = outbox_subjects(conf)
    assert set(sent) == {"seed1@example.com", "seed2@example.com"}
    assert all(subject.startswith("[TEST] ") for subject in sent.values())
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar_one() == 0


def test_without_a_seed_list_the_test_send_says_what_to_set(conf, engine):
    with TestClient(create_app(conf.model_copy(update={"seed_list": []}), engine),
                    base_url="https://news.example.org") as client:
        csrf = sign_in(client, engine, "ops")
        make_issue(engine)
        post(client, f"/ops/issues/{PERIOD}/test", csrf)
        [(level, text)] = flashes(client, f"/ops/issues/{PERIOD}")
    assert level == "error" and "set CURATOR_SEED_LIST" in text


def test_send_now_confirms_with_the_audience_size_then_workers_deliver(client, conf, engine, ops):
    make_issue(engine)
    add_audience(engine, 7)
    confirm = client.get(f"/ops/issues/{PERIOD}/send").text
    assert '<strong id="audience">7</strong>' in confirm and "Send to 7 subscribers" in confirm
    assert TOKEN.search(confirm)

    response = post(client, f"/ops/issues/{PERIOD}/send", ops)
    assert response.headers["location"] == f"/ops/issues/{PERIOD}"
    assert ("success", f"Started the send of {PERIOD} to 7 recipients. Workers deliver it.") in flashes(
        client, f"/ops/issues/{PERIOD}")
    progress = client.get(f"/ops/issues/{PERIOD}/progress.json").json()
    assert (progress["status"], progress["counts"]["pending"], progress["total"]) == ("sending", 7, 7)
    assert "Waiting for a worker" in progress["hint"]
    page = client.get(f"/ops/issues/{PERIOD}").text
    assert 'src="/ops/progress.js"' in page and 'id="count-pending">7<' in page
    assert "script-src 'self'" in client.get(f"/ops/issues/{PERIOD}").headers["content-security-policy"]
    assert "fetch(" in client.get("/ops/progress.js").text

    jobs.deliver(conf, engine)  # what `curator worker` or the scheduler's delivery pass does
    progress = client.get(f"/ops/issues/{PERIOD}/progress.json").json()
    assert (progress["status"], progress["counts"]["sent"], progress["waiting"], progress["time_left"]) == (
        "sent", 7, 0, "")  # a finished send says when it finished, never "time left done"
    assert progress["finished"] and progress["finished_text"].endswith("UTC")
    assert "so far" not in progress["duration_text"]
    post(client, f"/ops/issues/{PERIOD}/send", ops)  # again: refused, nobody gets it twice
    [(level, text)] = flashes(client, f"/ops/issues/{PERIOD}")
    assert level == "error" and "sent at most once" in text
    assert len([s for s in outbox_subjects(conf).values() if not s.startswith("[")]) == 7


def test_an_unapproved_issue_cannot_be_sent_from_the_console(client, engine, ops):
    make_issue(engine)
    with engine.begin() as conn:
        editorial.transition(conn, PERIOD, "in_review", "editor@example.org")
    assert "only an approved issue" in client.get(f"/ops/issues/{PERIOD}/send").text
    post(client, f"/ops/issues/{PERIOD}/send", ops)
    [(level, text)] = flashes(client, f"/ops/issues/{PERIOD}")
    assert level == "error" and "not approved" in text
    assert editorial_status(engine) == "in_review"


def test_pause_resume_retry_and_cancel(client, conf, engine, ops):
    make_issue(engine)
    add_audience(engine, 5)
    post(client, f"/ops/issues/{PERIOD}/send", ops)
    post(client, f"/ops/issues/{PERIOD}/pause", ops)
    assert editorial_status(engine) == "paused"
    assert "Resume" in client.get(f"/ops/issues/{PERIOD}").text
    post(client, f"/ops/issues/{PERIOD}/resume", ops)
    assert editorial_status(engine) == "sending"

    with engine.begin() as conn:  # two rows failed for good, as a 400 would leave them
        ids = conn.execute(select(deliveries.c.id).limit(2)).scalars().all()
        conn.execute(update(deliveries).where(deliveries.c.id.in_(ids)).values(state="failed", error="bad address"))
    assert "Retry 2 failed" in client.get(f"/ops/issues/{PERIOD}").text
    post(client, f"/ops/issues/{PERIOD}/retry", ops)
    assert ("success", f"Queued 2 failed recipients of {PERIOD} again.") in flashes(client, f"/ops/issues/{PERIOD}")

    post(client, f"/ops/issues/{PERIOD}/cancel", ops)  # without the tick: refused
    assert editorial_status(engine) == "sending"
    post(client, f"/ops/issues/{PERIOD}/cancel", ops, confirm="yes")
    assert editorial_status(engine) == "cancelled"
    assert ("success", f"Cancelled {PERIOD}: 5 recipients will not get it.") in flashes(client, f"/ops/issues/{PERIOD}")
    assert client.post(f"/ops/issues/{PERIOD}/explode", data={"csrf_token": ops}).status_code == 404
    with engine.connect() as conn:
        actions = set(conn.execute(select(audit_log.c.action).where(audit_log.c.actor == "ops@example.org")).scalars())
    assert {"issue.sending", "issue.paused", "send.retry", "send.cancel"} <= actions


def test_deliverability_per_issue(client, conf, engine, ops):
    issue_id = make_issue(engine)
    add_audience(engine, 4)
    post(client, f"/ops/issues/{PERIOD}/send", ops)
    jobs.deliver(conf, engine)
    kinds = ["delivered"] * 4 + ["bounce", "spamreport", "unsubscribe", "open", "open", "click"]
    with engine.begin() as conn:
        conn.execute(insert(events), [
            {"sg_event_id": f"e{i}", "event": kind, "email": f"reader{i % 4}@example.com", "issue_id": issue_id,
             "payload": {}} for i, kind in enumerate(kinds)
        ])
    page = client.get("/ops/deliverability").text
    row = page[page.index(f'href="/ops/issues/{PERIOD}"'):]
    cells = re.findall(r'<td class="num">(\d+)', row)[:8]
    assert cells == ["4", "4", "1", "0", "1", "1", "2", "1"]  # sent, delivered, bounced, dropped, ...
    issue = client.get(f"/ops/issues/{PERIOD}").text
    assert 'id="event-opened">2<' in issue and 'id="event-clicked">1<' in issue


def test_admins_may_use_the_console(client, engine):
    sign_in(client, engine, "admin")
    assert client.get("/ops").status_code == 200
