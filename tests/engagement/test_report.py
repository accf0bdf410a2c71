"""The issue report, every figure checked exactly: people and machines apart, per pick, topic and variant."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from curator import tokens
from curator.engagement import export, figures
from curator.store.schema import picks
from tests.deliver.helpers import PERIOD, dumps
from tests.engagement.conftest import HUMAN_AGENT, SCANNER_AGENT, age_deliveries, send


def link(settings, copy, pick_id, kind="r"):
    for url in copy.links(kind):
        token, pick = url.split(f"/{kind}/")[1].split("?")[0].split("/")
        if int(pick) == pick_id and tokens.read_link_token(settings, token).delivery_id == copy.delivery_id:
            return copy.path(url)
    raise AssertionError(f"no {kind} link to pick {pick_id} in {copy.email}'s copy")


def _event(n, email, kind, **extra):
    return {"event": kind, "email": email, "timestamp": 1893456000 + n, "sg_event_id": f"e-{n}", "issue": PERIOD,
            **extra}  # fmt: skip


@pytest.fixture
def reported(sg_settings, engine, sg, client, signer):
    """Four readers in two variants; clicks, opens, feedback and a bounce, complaint and unsubscribe."""
    copies = send(sg_settings, engine, sg, readers=4, variants=2)
    age_deliveries(engine)
    r0, r1, r2, r3 = (copies[f"reader{i}@example.com"] for i in range(4))
    with engine.connect() as conn:
        ids = dict(conn.execute(select(picks.c.topic, picks.c.id)).all())
    a, b, c = ids["career"], ids["software-engineering"], ids["machine-learning"]
    human, scanner = {"User-Agent": HUMAN_AGENT}, {"User-Agent": SCANNER_AGENT}
    for path, headers, method in [
        (link(sg_settings, r0, a), human, "GET"), (link(sg_settings, r0, a), human, "GET"),  # twice: one click
        (link(sg_settings, r0, b), human, "GET"),
        (link(sg_settings, r1, a), scanner, "GET"), (link(sg_settings, r1, a), human, "GET"),  # scanner, then person
        (link(sg_settings, r2, c), human, "HEAD"),  # a link checker only
    ]:  # fmt: skip
        assert client.request(method, path, headers=headers).status_code == 302
    for copy, vote in ((r0, "more"), (r1, "less")):
        token = link(sg_settings, copy, a, "f").split("/f/")[1].split("?")[0]
        assert client.post(f"/f/{token}", data={"vote": vote}).status_code == 200
    unsubscribe = r1.html.split('href="https://news.example.org/unsubscribe/')[1].split('"')[0]
    assert client.post(f"/unsubscribe/{unsubscribe}").status_code == 200
    posted = [_event(i, r.email, "delivered") for i, r in enumerate((r0, r1, r2, r3))] + [
        _event(10, r0.email, "open", useragent=HUMAN_AGENT, sg_machine_open=False),
        _event(11, r1.email, "open", sg_machine_open=True),
        _event(12, r2.email, "open", useragent="Mozilla/5.0 (via ggpht.com GoogleImageProxy)"),
        _event(13, r3.email, "bounce", type="bounce", reason="550 no such user"),
        _event(14, r2.email, "spamreport"),
    ]
    payload = dumps(posted)
    assert client.post("/webhooks/sendgrid", content=payload, headers=signer.headers(payload)).status_code == 200
    return {"a": a, "b": b, "c": c}


def test_the_report_figures_are_exact(sg_settings, engine, reported):
    with engine.connect() as conn:
        r = figures.report(conn, PERIOD)
    assert (r.status, r.sent, r.delivered, r.bounced, r.complaints) == ("sent", 4, 4, 1, 1)
    assert (r.unsubscribes, r.unsubscribe_reasons) == (1, {"unsubscribe link": 1})
    assert (r.human_opens, r.machine_opens, r.human_clickers, r.machine_clickers) == (1, 2, 2, 1)
    by_pick = {p.pick_id: (p.human_clicks, p.machine_clicks, p.more, p.less) for p in r.picks}
    assert by_pick[reported["a"]] == (2, 0, 1, 1)
    assert by_pick[reported["b"]] == (1, 0, 0, 0)
    assert by_pick[reported["c"]] == (0, 1, 0, 0)
    others = [v for k, v in by_pick.items() if k not in reported.values()]
    assert others == [(0, 0, 0, 0)] * 3
    topics = {g.name: (g.recipients, g.human_clicks, g.machine_clicks) for g in r.topics}
    assert topics["career"] == (4, 2, 0) and topics["software-engineering"] == (4, 1, 0)
    assert topics["machine-learning"] == (4, 0, 1) and topics["leadership"] == (4, 0, 0)
    variants = {g.name: (g.recipients, g.human_clicks, g.machine_clicks) for g in r.variants}
    assert variants == {"career": (2, 2, 1), "software-engineering": (2, 1, 0)}
    assert [(p.pick_id, p.human_clicks) for p in r.top] == [(reported["a"], 2), (reported["b"], 1)]
    assert r.trend == [{"period": PERIOD, "sent": 4, "human_opens": 1, "human_clickers": 2}]


def test_the_csv_and_the_cli(sg_settings, engine, reported, tmp_path):
    with engine.connect() as conn:
        r = figures.report(conn, PERIOD)
    rows = list(csv.DictReader(io.StringIO(export.report_csv(r))))
    assert len(rows) == 6
    career = next(row for row in rows if row["topic"] == "career")
    assert (career["human_clicks"], career["machine_clicks"], career["human_click_rate"]) == ("2", "0", "0.5000")
    assert (career["more_like_this"], career["less_like_this"]) == ("1", "1")

    env = {"CURATOR_DATABASE_URL": sg_settings.database_url, "CURATOR_FEEDS": str(sg_settings.feeds)}
    from curator.cli import app as cli_app

    out = tmp_path / "report.csv"
    result = CliRunner().invoke(cli_app, ["report", PERIOD, "--json", "--csv", str(out)], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["sent"], data["human_clickers"], data["machine_opens"]) == (4, 2, 2)
    assert out.read_text() == export.report_csv(r)
    table = CliRunner().invoke(cli_app, ["report", PERIOD], env=env)
    assert table.exit_code == 0 and "unsubscribe link: 1" in table.stdout
    missing = CliRunner().invoke(cli_app, ["report", "2020-01"], env=env)
    assert "there is no issue for 2020-01" in str(missing.exception)


def test_the_trend_chart_is_an_svg_with_a_title():
    svg = export.trend_svg([
        {"period": "2026-04", "sent": 10, "human_opens": 5, "human_clickers": 2},
        {"period": "2026-05", "sent": 0, "human_opens": 0, "human_clickers": 0},
    ])  # fmt: skip
    assert svg.startswith("<svg") and "<title id=\"trend-title\">" in svg and svg.count("<polyline") == 2
    assert "Human opens 2026-04: 50.0%" in svg and "Human clickers 2026-05: 0.0%" in svg
    assert export.trend_svg([]) == ""


def test_the_ops_page_shows_the_figures_and_the_csv(sg_settings, engine, reported):
    from curator.web.app import create_app
    from tests.web.test_ops import TestClient, sign_in

    with TestClient(create_app(sg_settings, engine), base_url="https://news.example.org") as client:
        assert client.get(f"/ops/reports/{PERIOD}", follow_redirects=False).status_code in (302, 303)  # signed out
        sign_in(client, engine, "ops")
        index = client.get("/ops/reports")
        assert f'href="/ops/reports/{PERIOD}"' in index.text
        page = client.get(f"/ops/reports/{PERIOD}")
        assert page.status_code == 200 and "Content-Security-Policy" in page.headers
        for cell, value in (("human-opens", 1), ("machine-opens", 2), ("human-clickers", 2), ("machine-clickers", 1)):
            assert f'id="{cell}">{value}</td>' in page.text
        assert "unsubscribe link: 1" in page.text and "<svg" in page.text and "<script" not in page.text
        csv_page = client.get(f"/ops/reports/{PERIOD}.csv")
        assert csv_page.headers["content-type"].startswith("text/csv")
        assert csv_page.headers["content-disposition"] == f'attachment; filename="curator-{PERIOD}.csv"'
        with engine.connect() as conn:
            assert csv_page.text == export.report_csv(figures.report(conn, PERIOD))
        assert client.get("/ops/reports/2020-01").status_code == 404


def test_the_desk_sources_page_shows_what_readers_did(sg_settings, engine, reported):
    from curator.engagement.sources import source_health
    from curator.web.app import create_app
    from tests.web.test_ops import TestClient, sign_in

    with engine.connect() as conn:
        [source] = source_health(conn)
    assert (source.items, source.approved, source.rejected, source.delivered) == (6, 6, 0, 24)
    assert (source.clicks, source.more, source.less, source.click_rate) == (3, 1, 1, 3 / 24)
    with TestClient(create_app(sg_settings, engine), base_url="https://news.example.org") as client:
        sign_in(client, engine, "editor")
        assert 'href="/desk/sources"' in client.get("/desk").text
        page = client.get("/desk/sources")
        assert page.status_code == 200
        assert "Example Feed" in page.text and "12.5%" in page.text and "3 of 24" in page.text
        assert "1 / 1" in page.text and "readers clicked 3 of 24 delivered picks" in page.text


def test_retention_folds_old_clicks_into_totals_and_the_figures_stay(sg_settings, engine, reported):
    from datetime import timedelta

    from sqlalchemy import func

    from curator.store.schema import clicks, now
    from scheduler import jobs

    with engine.connect() as conn:
        before = figures.report(conn, PERIOD).as_dict()
        raw = conn.execute(select(func.count()).select_from(clicks)).scalar_one()
    assert raw == 6
    assert jobs.retention(sg_settings, engine, now=now() + timedelta(days=89)) == 0  # not old enough yet
    assert jobs.retention(sg_settings, engine, now=now() + timedelta(days=91)) == 6
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(clicks)).scalar_one() == 0
        assert figures.report(conn, PERIOD).as_dict() == before
        from curator.engagement.sources import source_health

        [source] = source_health(conn)
    assert source.clicks == 3
    assert jobs.retention(sg_settings, engine, now=now() + timedelta(days=91)) == 0  # nothing twice


def test_forget_erases_a_readers_clicks_and_feedback(sg_settings, engine, reported):
    from curator import subscribers

    with engine.begin() as conn:
        exported = subscribers.export_data(conn, "reader0@example.com")
        assert len(exported["clicks"]) == 3 and [v["vote"] for v in exported["feedback"]] == [1]
        done = subscribers.forget(conn, "reader0@example.com")
    assert (done["clicks_deleted"], done["feedback_deleted"]) == (3, 1)
    with engine.connect() as conn:
        r = figures.report(conn, PERIOD)
    assert (r.human_clickers, r.machine_clickers) == (1, 1)
    by_pick = {p.pick_id: (p.human_clicks, p.machine_clicks, p.more, p.less) for p in r.picks}
    assert by_pick[reported["a"]] == (1, 0, 0, 1) and by_pick[reported["b"]] == (0, 0, 0, 0)
    assert (r.human_opens, r.machine_opens) == (1, 2)  # an open's count stays, without the address


def test_reader_counts_feed_the_readers_interest_per_source_and_per_kind(engine, reported):
    from sqlalchemy import update

    from curator.curate.readers import ReaderCounts, interest_by

    with engine.begin() as conn:
        conn.execute(update(picks).where(picks.c.id == reported["a"]).values(parts={"page_kind": "tutorial"}))
        conn.execute(update(picks).where(picks.c.id != reported["a"]).values(parts={"page_kind": "essay"}))
        per_kind = figures.kind_counts(conn)
        per_source = figures.source_counts(conn)
    assert per_kind == {
        "tutorial": {"delivered": 4, "clicks": 2, "more": 1, "less": 1},
        "essay": {"delivered": 20, "clicks": 1, "more": 0, "less": 0},
    }
    assert list(per_source.values()) == [{"delivered": 24, "clicks": 3, "more": 1, "less": 1}]
    interest = interest_by({kind: ReaderCounts(**counts) for kind, counts in per_kind.items()})
    assert interest["tutorial"].value > 0 > interest["essay"].value
    # Four deliveries are little evidence: the prior keeps the verdict near average.
    assert interest["tutorial"].words == (
        "about average: readers clicked 2 of 4 delivered picks (50.0%, against 12.5% overall); "
        "1 asked for more like this, 1 for less"
    )


def test_a_pick_counts_as_delivered_only_to_readers_whose_email_carries_its_topic(sg_settings, engine, sg):
    from sqlalchemy import update

    from curator import deliver
    from curator.store.schema import subscribers
    from tests.deliver.helpers import add_audience, make_issue

    make_issue(engine)
    add_audience(engine, 4, variants=2)  # two want career first, two software engineering first
    with engine.begin() as conn:  # one of each wants only their topic
        conn.execute(update(subscribers).where(subscribers.c.email.in_(["reader0@example.com", "reader1@example.com"]))
                     .values(only_my_topics=True))  # fmt: skip
    deliver.start(engine, PERIOD, "test")
    deliver.Worker(sg_settings, engine).run()
    with engine.connect() as conn:
        per_topic = figures.reader_counts(conn, lambda pick: pick["topic"])
        report = figures.report(conn, PERIOD)
    assert {g.name: g.recipients for g in report.topics} == {topic: c["delivered"] for topic, c in per_topic.items()}
    delivered = {topic: counts["delivered"] for topic, counts in per_topic.items()}
    assert delivered == {"career": 3, "software-engineering": 3, "machine-learning": 2, "leadership": 2,
                         "productivity": 2, "learning": 2}  # fmt: skip


def test_retention_keeps_the_rows_of_a_reader_still_clicking(sg_settings, engine, reported):
    from datetime import timedelta

    from sqlalchemy import func

    from curator.engagement import clicks as click_module
    from curator.store.schema import clicks, deliveries, now
    from scheduler import jobs

    later = now() + timedelta(days=60)
    with engine.begin() as conn:
        r0 = conn.execute(select(deliveries.c.id).where(deliveries.c.email == "reader0@example.com")).scalar_one()
        token = tokens.make_link_token(sg_settings, r0)
        click_module.follow(conn, sg_settings, token, reported["c"], method="GET", user_agent=HUMAN_AGENT,
                            ip="198.51.100.7", at=later)  # fmt: skip
        before = figures.report(conn, PERIOD).as_dict()
    # 91 days after the send, reader0's last click is 31 days old: their four rows stay, the others' three go.
    assert jobs.retention(sg_settings, engine, now=now() + timedelta(days=91)) == 3
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(clicks)).scalar_one() == 4
        assert figures.report(conn, PERIOD).as_dict() == before
