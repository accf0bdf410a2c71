"""Dead ends the desk used to lead to: a test copy's links, "View in your browser" before sending, ops' desk link."""

from __future__ import annotations

import email
import email.policy
import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from curator import editorial
from curator.store.schema import audit_log, subscribers
from curator.web import create_app
from tests.web import test_desk as base

PERIOD = base.PERIOD
post = base.post
conf, client, drafted, sign_in = base.conf, base.client, base.drafted, base.sign_in


def last_email(conf) -> email.message.EmailMessage:
    [path] = sorted(conf.outbox_dir.glob("*.eml"))
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def link(message, word: str) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(rf"https://news\.example\.org(/{word}/\S+)", text).group(1)


def test_a_test_copy_is_audited_and_its_links_say_it_is_a_test(client, engine, conf, drafted, sign_in):
    csrf = sign_in(client, engine)
    with engine.begin() as conn:  # the editor is a subscriber too: the test copy must not unsubscribe them
        conn.execute(subscribers.insert().values(email="editor@example.org", status="active", topics=[]))
    post(client, f"/desk/{PERIOD}/test", {"topic": ["career"]}, csrf)
    with engine.connect() as conn:
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "issue.test_send")).mappings().one()
    assert (entry["actor"], entry["target"], entry["detail"]) == (
        "editor@example.org", PERIOD, "to editor@example.org (career)")
    message = last_email(conf)
    for word in ("unsubscribe", "preferences"):
        page = client.get(link(message, word))
        assert page.status_code == 200 and "This is a test copy" in page.text, word
        assert "nothing happened" in page.text
    answer = client.post(link(message, "unsubscribe"), data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200 and "This is a test copy" in answer.text
    with engine.connect() as conn:
        assert conn.execute(select(subscribers.c.status)).scalar_one() == "active"


def test_view_in_your_browser_before_sending_is_a_preview_for_staff_only(client, engine, conf, drafted, sign_in):
    with TestClient(client.app, base_url=conf.base_url) as anonymous:
        assert anonymous.get(f"/archive/{PERIOD}").status_code == 404
    sign_in(client, engine)
    page = client.get(f"/archive/{PERIOD}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "Preview for staff: this issue is draft and not published yet." in page.text
    assert drafted[0]["title"] in page.text  # before approval, the suggested picks show as in the preview
    preview = client.get(f"/desk/{PERIOD}/preview").text
    assert f'href="/archive/{PERIOD}"' in preview and "a preview only signed-in staff can open" in preview


def test_ops_do_not_see_a_desk_link_they_cannot_open(conf, engine, drafted, sign_in):
    for role, shown in (("ops", False), ("admin", True)):
        with TestClient(create_app(conf, engine), base_url=conf.base_url) as client:
            sign_in(client, engine, role)
            page = client.get(f"/ops/issues/{PERIOD}").text
            assert ("Open in the desk" in page) is shown, role


def test_the_fetch_page_refreshes_itself_while_a_run_goes_on(client, engine, drafted, sign_in):
    from curator.store.schema import fetch_runs, now

    sign_in(client, engine)
    assert "No fetch has run for this issue yet." in client.get(f"/desk/{PERIOD}/fetch").text
    with engine.begin() as conn:
        conn.execute(fetch_runs.insert().values(period=PERIOD, started_by="x", started_at=now(), state="running",
                                                feeds_done=2, feeds_total=5, message="Fetched 2 of 5 feeds"))
    page = client.get(f"/desk/{PERIOD}/fetch").text
    assert '<meta http-equiv="refresh" content="2">' in page and "Fetched 2 of 5 feeds" in page
    assert '<progress max="5" value="2"' in page
    issue = client.get(f"/desk/{PERIOD}").text  # the desk polls it, with htmx, while it runs
    assert f'hx-get="/desk/{PERIOD}/fetch" hx-trigger="every 1s"' in issue
    with engine.connect() as conn:
        assert editorial.get_issue(conn, PERIOD)["status"] == "draft"
