"""Subscribers in the ops console, in process: search and filter, add, suppress, remove, CSV in and out, growth."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from xml.etree import ElementTree as ET

from sqlalchemy import insert, select

from curator import subscribers
from curator.store.schema import audit_log, now
from curator.store.schema import subscribers as subscribers_table
from tests.web.test_ops import client, conf, flashes, ops, post, sign_in  # noqa: F401

CSV = "email,name,topics\nada@example.com,Ada,career;learning\nnot-an-address,Bob,\nada@example.com,Ada again,\n" \
      "cy@example.com,Cy,cooking\ndee@example.com,Dee,leadership\n"


def _people(engine) -> None:
    with engine.begin() as conn:
        for address, topics in (("ann@example.com", ["career"]), ("ben@example.com", ["learning"]),
                                ("cat@example.com", ["career", "learning"])):
            subscribers.add(conn, address, topics=topics, known_topics=None)
        subscribers.unsubscribe(conn, subscribers.find(conn, "ben@example.com")["id"])


def test_editors_cannot_see_subscribers(client, engine):  # noqa: F811
    sign_in(client, engine, "editor")
    assert client.get("/ops/subscribers").status_code == 403


def test_search_and_filter_by_status_and_topic(client, engine, ops):  # noqa: F811
    _people(engine)
    page = client.get("/ops/subscribers")
    assert page.status_code == 200 and "2 active" in page.text and "1 unsubscribed" in page.text

    def found(**query) -> list[str]:
        return re.findall(r"<strong>([a-z]+@example\.com)</strong>", client.get("/ops/subscribers", params=query).text)

    assert sorted(found()) == ["ann@example.com", "ben@example.com", "cat@example.com"]
    assert found(status="unsubscribed") == ["ben@example.com"]
    assert sorted(found(topic="career")) == ["ann@example.com", "cat@example.com"]
    assert found(topic="learning", status="active") == ["cat@example.com"]
    assert found(q="AN") == ["ann@example.com"]


def test_add_suppress_and_remove(client, engine, ops):  # noqa: F811
    added = post(client, "/ops/subscribers/add", ops, email="Zed@Example.com", name="Zed", topics="career")
    assert added.status_code == 303
    assert ("success", "Added zed@example.com (active).") in flashes(client, "/ops/subscribers")
    with engine.connect() as conn:
        zed = subscribers.find(conn, "zed@example.com")
    assert zed["status"] == "active" and zed["topics"] == ["career"] and zed["source"] == "ops"
    post(client, f"/ops/subscribers/{zed['id']}/suppress", ops)
    with engine.connect() as conn:
        assert subscribers.find(conn, "zed@example.com")["status"] == "unsubscribed"
        assert subscribers.is_suppressed(conn, "zed@example.com")
    post(client, f"/ops/subscribers/{zed['id']}/remove", ops)  # not ticked: refused
    assert any(level == "error" and "tick the box" in text for level, text in flashes(client, "/ops/subscribers"))
    post(client, f"/ops/subscribers/{zed['id']}/remove", ops, confirm="yes")
    with engine.connect() as conn:
        assert subscribers.find(conn, "zed@example.com") is None
        actions = conn.execute(select(audit_log.c.action).order_by(audit_log.c.id)).scalars().all()
    assert actions[-3:] == ["subscriber.add", "subscriber.suppress", "subscriber.remove"]
    assert post(client, "/ops/subscribers/1/remove", None).status_code == 403  # no CSRF token


def test_csv_import_lists_every_refused_line_and_export_reads_back(client, engine, ops):  # noqa: F811
    page = client.post("/ops/subscribers/import", data={"csrf_token": ops},
                       files={"file": ("people.csv", CSV.encode(), "text/csv")})
    assert page.status_code == 200 and "2 added, 3 refused" in page.text
    lines = re.findall(r'<td class="num">(\d+)</td>', page.text)
    assert lines == ["3", "4", "5"]
    assert "duplicate in the file" in page.text and "cooking" in page.text
    exported = client.get("/ops/subscribers.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["email"]: r["topics"] for r in rows} == {
        "ada@example.com": "career;learning", "dee@example.com": "leadership"}


def test_a_part_of_a_csv_keeps_the_files_line_numbers(client, engine, ops):  # noqa: F811
    part = "email,name,topics\nok@example.com,,\nbad@,,\n"
    data = {"csrf_token": ops, "csv": part, "offset": "200", "name": "big.csv"}
    answer = client.post("/ops/subscribers/import-part", data=data, headers={"Accept": "application/json"})
    assert answer.status_code == 200
    assert answer.json()["added"] == 1 and [r["line"] for r in answer.json()["rejected"]] == [203]
    broken = client.post("/ops/subscribers/import-part", data={"csrf_token": ops, "csv": "name\nx\n", "offset": "0"})
    assert broken.status_code == 400 and "no `email` column" in broken.json()["error"]


def test_the_growth_chart_is_svg_with_a_bar_per_week_and_series(client, engine, ops):  # noqa: F811
    with engine.begin() as conn:
        conn.execute(insert(subscribers_table), [
            {"email": f"g{i}@example.com", "status": "active", "topics": [], "source": "test",
             "created_at": now(), "confirmed_at": now() - timedelta(weeks=i % 3)} for i in range(9)
        ])
        subscribers.suppress(conn, "g0@example.com", "bounced")
    answer = client.get("/ops/subscribers/growth.svg")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("image/svg+xml")
    svg = ET.fromstring(answer.text)
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.tag == f"{ns}svg" and svg.get("role") == "img"
    assert "9 confirmed, 0 unsubscribed, 1 bounced over 12 weeks" in svg.find(f"{ns}title").text
    bars = [r.find(f"{ns}title").text for r in svg.iter(f"{ns}rect") if r.find(f"{ns}title") is not None]
    assert len(bars) == 36  # 12 weeks x 3 series
    this_week = [b for b in bars if b.startswith("Confirmed") and b.endswith(": 3")]
    assert len(this_week) == 3
    assert "<svg" in client.get("/ops/subscribers").text  # drawn in the page too
