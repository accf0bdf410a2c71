"""The console's first screen says what goes out next; the schedule is edited there; a send's page tells its story."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from curator import deliver
from curator.store.schema import audit_log, deliveries, schedule_overrides
from scheduler import jobs
from tests.deliver.helpers import PERIOD, add_audience, make_issue
from tests.web.test_ops import client, conf, flashes, ops, post  # noqa: F401


def test_the_first_screen_says_what_goes_out_next_and_if_it_is_ready(client, ops):  # noqa: F811
    page = client.get("/ops").text
    words = re.search(r'<p class="next-send-words"><strong>(.*?)</strong>', page).group(1)
    assert re.fullmatch(r"\w{3} \d{1,2} \w{3} 09:00 — \w+ \d{4} — no draft yet \(this blocks the send\)", words)
    assert "not ready" in page


def test_the_schedule_is_edited_in_the_console(client, engine, ops):  # noqa: F811
    post(client, "/ops/schedule", ops, job="send", fields="day=3 hour=18 minute=30")
    [(level, text)] = flashes(client, "/ops/schedule")
    assert level == "success" and "day=3 hour=18 minute=30" in text and "no restart" in text
    page = client.get("/ops/schedule").text
    assert 'value="day=3 hour=18 minute=30"' in page and "Changed in the console: set by ops@example.org" in page
    assert re.search(r"\w{3} 3 \w{3} 18:30 — ", client.get("/ops").text)
    post(client, "/ops/schedule", ops, job="send", fields="day_of_week=2 hour=9")
    [(level, text)] = flashes(client, "/ops/schedule")
    assert level == "error" and "uses a number; write weekday names" in text
    post(client, "/ops/schedule", ops, job="send", fields="")
    with engine.connect() as conn:
        assert conn.execute(select(schedule_overrides)).all() == []
        actions = conn.execute(select(audit_log.c.action).order_by(audit_log.c.id)).scalars().all()
    assert actions[-2:] == ["schedule.edit", "schedule.reset"]
    assert post(client, "/ops/schedule", None, job="send", fields="hour=1").status_code == 403


def test_a_finished_send_shows_its_timing_and_failures_by_reason(client, conf, engine, ops):  # noqa: F811
    make_issue(engine)
    add_audience(engine, 6)
    deliver.start(engine, PERIOD, "ops@example.org")
    jobs.deliver(conf, engine)
    with engine.begin() as conn:  # two recipients SendGrid refused, for the page to count
        ids = conn.execute(select(deliveries.c.id).order_by(deliveries.c.id).limit(2)).scalars().all()
        conn.execute(update(deliveries).where(deliveries.c.id.in_(ids))
                     .values(state="failed", error="400 Bad Request: invalid email"))
    page = client.get(f"/ops/issues/{PERIOD}").text
    assert '<span id="left-line" hidden>' in page and "done</strong>" not in page  # never "time left done"
    for label in ("Started", "Finished", "Duration", "Throughput"):
        assert f"<dt>{label}</dt>" in page
    assert re.search(r'<dd id="finished_text">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</dd>', page)
    assert re.search(r"<td>400 Bad Request: invalid email</td><td class=\"num\">2</td>", page)
    assert '<progress id="done" class="send-bar" value="6" max="6"' in page
