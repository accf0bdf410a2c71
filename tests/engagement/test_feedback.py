"""More / less like this: the link shows a page, only its POST counts; stored per pick and per source."""

from __future__ import annotations

from sqlalchemy import select

from curator import deliver, tokens
from curator.store.schema import feedback, items, picks
from tests.deliver.helpers import PERIOD, add_audience, make_issue
from tests.engagement.conftest import SCANNER_AGENT, send


def _votes(engine):
    with engine.connect() as conn:
        return [
            (r.delivery_id, r.pick_id, r.feed_id, r.vote)
            for r in conn.execute(select(feedback).order_by(feedback.c.id))
        ]


def _feed_of(engine, pick_id):
    with engine.connect() as conn:
        return conn.execute(
            select(items.c.feed_id).join(picks, picks.c.item_id == items.c.id).where(picks.c.id == pick_id)
        ).scalar_one()


def test_a_get_changes_nothing_and_the_post_records_the_vote(sg_settings, engine, sg, client):
    copies = send(sg_settings, engine, sg)
    ada = next(iter(copies.values()))
    more, less = ada.links("f")[:2]
    assert more.endswith("?vote=more") and less.endswith("?vote=less")
    page = client.get(ada.path(more).replace("&amp;", "&"), headers={"User-Agent": SCANNER_AGENT})
    assert page.status_code == 200 and "More or less like this?" in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert client.head(ada.path(more)).status_code in (200, 405)
    assert _votes(engine) == []  # scanners open links: nothing is stored

    token = ada.path(more).split("/f/")[1].split("?")[0]  # TOKEN/PICK
    pick_id = int(token.rsplit("/", 1)[1])
    done = client.post(f"/f/{token}", data={"vote": "more"})
    assert done.status_code == 200 and "you asked for more like this" in done.text
    assert _votes(engine) == [(ada.delivery_id, pick_id, _feed_of(engine, pick_id), 1)]
    client.post(f"/f/{token}", data={"vote": "less"})  # changed their mind: the last word counts
    assert _votes(engine) == [(ada.delivery_id, pick_id, _feed_of(engine, pick_id), -1)]
    assert "You said “less like this” before" in client.get(f"/f/{token}").text


def test_a_bad_vote_or_a_forged_token_stores_nothing(sg_settings, engine, sg, client):
    copies = send(sg_settings, engine, sg)
    ada = next(iter(copies.values()))
    token, pick = ada.path(ada.links("f")[0]).split("/f/")[1].split("?")[0].split("/")
    assert client.post(f"/f/{token}/{pick}", data={"vote": "maybe"}).status_code == 400
    assert client.post(f"/f/{token[:-3]}abc/{pick}", data={"vote": "more"}).status_code == 400
    assert client.post(f"/f/{token}/99999", data={"vote": "more"}).status_code == 400
    assert client.post(f"/f/{token}/{pick}", data={}).status_code == 400
    assert _votes(engine) == []


def test_a_test_copy_shows_the_page_and_stores_nothing(sg_settings, engine, sg, client):
    send(sg_settings, engine, sg)
    with engine.connect() as conn:
        pick_id = conn.execute(select(picks.c.id).limit(1)).scalar_one()
    path = f"/f/{tokens.make_link_token(sg_settings, 0)}/{pick_id}"
    assert "from a test copy" in client.get(path).text
    assert client.post(path, data={"vote": "more"}).status_code == 200
    assert _votes(engine) == []


def test_the_outbox_copy_has_its_own_links_too(settings, engine, client):
    make_issue(engine)
    add_audience(engine, 2, variants=1)
    deliver.start(engine, PERIOD, "test")
    deliver.Worker(settings, engine).run()
    files = sorted((settings.outbox_dir).glob("*.eml"))
    assert len(files) == 2
    bodies = [f.read_text() for f in files]
    links = [{line for line in body.split() if "https://news.example.org/r/" in line} for body in bodies]
    assert all(len(found) >= 6 for found in links) and links[0].isdisjoint(links[1])
    url = sorted(links[0])[0].split('"')[1] if '"' in sorted(links[0])[0] else sorted(links[0])[0]
    response = client.get(url.removeprefix("https://news.example.org"))
    assert response.status_code == 302 and response.headers["location"].startswith("https://example.org/2026-05/")
