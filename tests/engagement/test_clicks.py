"""Clicks through the signed redirect: people and scanners apart, forged links nowhere, SendGrid's clicks once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from curator import tokens
from curator.engagement import clicks as click_module
from curator.store.schema import clicks, issues, items, picks
from tests.deliver.helpers import PERIOD, dumps, make_issue
from tests.engagement.conftest import HUMAN_AGENT, SCANNER_AGENT, age_deliveries, send, sent_at


def _clicks(engine):
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(clicks).order_by(clicks.c.id))]


def _article(engine, pick_id):
    with engine.connect() as conn:
        return conn.execute(
            select(items.c.canonical_url).join(picks, picks.c.item_id == items.c.id).where(picks.c.id == pick_id)
        ).scalar_one()


def test_a_reader_click_redirects_to_the_article_and_counts_as_human(sg_settings, engine, sg, client):
    copies = send(sg_settings, engine, sg)
    age_deliveries(engine)
    ada = next(iter(copies.values()))
    links = ada.links("r")
    assert len(links) == 6  # one tracked link per pick
    other = [c for c in copies.values() if c.email != ada.email][0]
    assert set(links).isdisjoint(other.links("r"))  # per recipient
    response = client.get(ada.path(links[0]), headers={"User-Agent": HUMAN_AGENT})
    assert response.status_code == 302
    [row] = _clicks(engine)
    assert response.headers["location"] == _article(engine, row["pick_id"])
    assert row["human"] is True and row["reason"] == "" and row["delivery_id"] == ada.delivery_id
    assert row["source"] == "redirect"


def test_scanner_clicks_are_recorded_as_machines(sg_settings, engine, sg, client):
    copies = send(sg_settings, engine, sg)
    ada, bob, cy = copies.values()
    # Just delivered: a click within click_machine_seconds is a scanner's.
    assert client.get(ada.path(ada.links("r")[0]), headers={"User-Agent": HUMAN_AGENT}).status_code == 302
    age_deliveries(engine)
    assert client.head(bob.path(bob.links("r")[0]), headers={"User-Agent": HUMAN_AGENT}).status_code == 302
    assert client.get(cy.path(cy.links("r")[1]), headers={"User-Agent": SCANNER_AGENT}).status_code == 302
    assert client.get(cy.path(cy.links("r")[2]), headers={"User-Agent": ""}).status_code == 302
    reasons = [(r["delivery_id"], r["human"], r["reason"]) for r in _clicks(engine)]
    assert reasons == [
        (ada.delivery_id, False, "too soon after delivery"),
        (bob.delivery_id, False, "HEAD request"),
        (cy.delivery_id, False, "scanner user agent"),
        (cy.delivery_id, False, "no user agent"),
    ]


def test_every_link_of_a_message_within_a_second_is_a_machine(sg_settings, engine, sg):
    copies = send(sg_settings, engine, sg)
    age_deliveries(engine)
    ada, bob = list(copies.values())[:2]
    start = sent_at(engine, ada.delivery_id) + timedelta(hours=2)
    with engine.begin() as conn:
        for i, url in enumerate(ada.links("r")):  # all six within 0.6 s
            _, token, pick = url.rsplit("/", 2)
            click_module.follow(conn, sg_settings, token, int(pick), method="GET", user_agent=HUMAN_AGENT,
                                ip="192.0.2.1", at=start + timedelta(seconds=0.1 * i))  # fmt: skip
        for i, url in enumerate(bob.links("r")[:2]):  # a person reading two picks, a minute apart
            _, token, pick = url.rsplit("/", 2)
            click_module.follow(conn, sg_settings, token, int(pick), method="GET", user_agent=HUMAN_AGENT,
                                ip="192.0.2.2", at=start + timedelta(minutes=i))  # fmt: skip
    rows = _clicks(engine)
    assert {(r["human"], r["reason"]) for r in rows if r["delivery_id"] == ada.delivery_id} == {
        (False, "every link within a second")
    }
    assert [r["human"] for r in rows if r["delivery_id"] == bob.delivery_id] == [True, True]


def test_a_forged_or_altered_link_gets_a_page_not_a_redirect(sg_settings, engine, sg, client):
    make_issue(engine, "2026-04")  # another issue: its picks are not this email's
    copies = send(sg_settings, engine, sg)
    ada = next(iter(copies.values()))
    _, token, pick = ada.links("r")[0].rsplit("/", 2)
    someone_else = sg_settings.model_copy(update={"secret_key": "someone-else-entirely-0123456789abcdef"})
    forged = tokens.make_link_token(someone_else, ada.delivery_id)
    with engine.connect() as conn:
        elsewhere = conn.execute(
            select(picks.c.id).join(issues, issues.c.id == picks.c.issue_id).where(issues.c.period == "2026-04")
        ).first()[0]
    for path in (
        f"/r/{token[:-2]}xx/{pick}",  # altered
        f"/r/{forged}/{pick}",  # signed with another key
        f"/r/{tokens.make_link_token(sg_settings, 99999)}/{pick}",  # a delivery that does not exist
        f"/r/{token}/{elsewhere}",  # a pick of another issue
        f"/r/{token}/99999",  # no such pick
        f"/r/{token}/abc",
        "/r/evil.example/1",
        f"/r/{token}/{pick}x?next=https://evil.example",
    ):
        response = client.get(path, headers={"User-Agent": HUMAN_AGENT})
        assert response.status_code == 400 and "location" not in response.headers, path
        assert "This link is broken" in response.text
    assert _clicks(engine) == []


def test_a_test_copy_link_works_and_counts_nothing(sg_settings, engine, sg, client):
    send(sg_settings, engine, sg)
    with engine.connect() as conn:
        pick_id = conn.execute(select(picks.c.id).limit(1)).scalar_one()
    token = tokens.make_link_token(sg_settings, 0)
    response = client.get(f"/r/{token}/{pick_id}", headers={"User-Agent": HUMAN_AGENT})
    assert response.status_code == 302 and response.headers["location"] == _article(engine, pick_id)
    assert _clicks(engine) == []


def test_tracking_off_links_go_straight_to_the_article(sg_settings, engine, sg):
    copies = send(sg_settings.model_copy(update={"click_tracking": False}), engine, sg)
    ada = next(iter(copies.values()))
    assert ada.links("r") == []
    assert 'href="https://example.org/2026-05/career"' in ada.html
    assert len(ada.links("f")) == 12  # feedback stays: more and less per pick


def test_sendgrid_click_events_are_deduplicated_against_the_redirect(sg_settings, engine, sg, client, signer):
    copies = send(sg_settings.model_copy(update={"click_tracking": False}), engine, sg)
    age_deliveries(engine)
    ada, bob, _ = copies.values()
    tracked = bob.links("f")[0].replace("/f/", "/r/").split("?")[0]

    def event(n, email, delivery_id, url):
        return {"event": "click", "email": email, "url": url, "timestamp": 1893456000 + n,
                "sg_event_id": f"click-{n}", "issue": PERIOD, "delivery": str(delivery_id), "useragent": HUMAN_AGENT}

    posts = [
        event(1, ada.email, ada.delivery_id, "https://example.org/2026-05/career"),
        event(2, ada.email, ada.delivery_id, "https://example.org/2026-05/career"),  # the same reader again
        event(3, bob.email, bob.delivery_id, tracked),  # our own /r/ link: the redirect counted it
        event(4, bob.email, bob.delivery_id, "https://news.example.org/unsubscribe/x"),  # not a pick
    ]  # fmt: skip
    payload = dumps(posts)
    assert client.post("/webhooks/sendgrid", content=payload, headers=signer.headers(payload)).status_code == 200
    rows = _clicks(engine)
    assert [(r["delivery_id"], r["source"], r["human"]) for r in rows] == [(ada.delivery_id, "sendgrid", True)]
