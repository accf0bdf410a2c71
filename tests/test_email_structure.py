"""The issue's structure per subscriber: their topics first (or only), a table of contents, the end of their topics.

A real send to the outbox: the ledger's variant carries the "only my topics" choice, and the
email each subscriber receives starts with their own topics.
"""

from __future__ import annotations

import email
import email.policy
import re

from sqlalchemy import insert, select

from curator import deliver, render
from curator.content import IssueContent, PickView, Section
from curator.store.schema import deliveries, now, subscribers
from tests.deliver.helpers import PERIOD, make_issue

TITLES = {"career": "Career", "leadership": "Leadership"}


def _subscriber(engine, address: str, topics: list[str], only: bool) -> None:
    with engine.begin() as conn:
        conn.execute(insert(subscribers).values(
            email=address, name="Ada", topics=topics, status="active", created_at=now(), confirmed_at=now(),
            source="test", only_my_topics=only,
        ))


def _received(settings, address: str) -> tuple[str, str]:
    for path in settings.outbox_dir.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"].addresses[0].addr_spec == address:
            return message.get_body(("html",)).get_content(), message.get_body(("plain",)).get_content()
    raise AssertionError(f"nothing in the outbox for {address}")


def _sections(text: str) -> list[str]:
    """The section headings of a text part, in order (upper-case lines underlined with dashes)."""
    lines = text.splitlines()
    return [lines[i] for i in range(len(lines) - 1) if re.fullmatch(r"-{3,}", lines[i + 1]) and lines[i].isupper()]


def test_a_subscriber_of_two_topics_gets_them_first_or_only_them(settings, engine):
    make_issue(engine)  # one pick in each of six topics
    _subscriber(engine, "all@example.com", ["career", "leadership"], only=False)
    _subscriber(engine, "only@example.com", ["career", "leadership"], only=True)
    deliver.start(engine, PERIOD, "test")
    with engine.connect() as conn:
        variants = dict(conn.execute(select(deliveries.c.email, deliveries.c.variant)).all())
    assert variants == {"all@example.com": "career,leadership", "only@example.com": "only:career,leadership"}
    deliver.Worker(settings, engine).run()

    html, text = _received(settings, "all@example.com")
    assert _sections(text)[:2] == ["CAREER", "LEADERSHIP"] and len(_sections(text)) == 6
    assert "That was your topics" in text and "(your topics end here)" in text
    assert html.index('id="topic-career"') < html.index('id="topic-leadership"') < html.index("That was your topics")
    assert "In this issue" in html and 'href="#topic-learning"' in html

    html, text = _received(settings, "only@example.com")
    assert _sections(text) == ["CAREER", "LEADERSHIP"]
    assert "topic-learning" not in html and "That was your topics" not in text
    assert "only your topics" in text


def test_each_pick_shows_its_source_date_and_reading_time(settings):
    content = IssueContent("2026-12", "December", sections=(Section("career", "Career", (
        PickView("A", "https://a.example/a", source="Jobs Weekly", published=now().date().replace(2026, 11, 3),
                 reading_minutes=6),
        PickView("B", "https://a.example/b", source="Jobs Weekly"),
    )),))
    body = render.render_variant(content, ["career"], settings)
    assert "Jobs Weekly · 3 Nov 2026 · 6 min read" in body.text and "Jobs Weekly · 3 Nov 2026 · 6 min read" in body.html
    assert body.text.count("min read") == 1  # unknown reading time: nothing said


def test_brand_settings_reach_the_email(settings):
    branded = settings.model_copy(update={
        "brand_logo_url": "https://cdn.example.org/logo.png", "brand_accent": "#7a1f5c",
        "brand_footer": "Made by the Growth Guild in Galway.",
    })
    content = IssueContent("2026-12", "December", sections=(Section("career", "Career", (PickView("A", "https://a/"),)),))
    body = render.render_variant(content, ["career"], branded)
    assert 'src="https://cdn.example.org/logo.png"' in body.html and "#7a1f5c" in body.html
    assert "Made by the Growth Guild in Galway." in body.html and "Made by the Growth Guild in Galway." in body.text


def test_the_accent_colour_is_validated():
    import pytest

    from curator.config import load_settings
    from curator.errors import ConfigError

    assert load_settings(brand_accent="#0B6E4F").brand_accent == "#0b6e4f"
    with pytest.raises(ConfigError, match="not a colour: write it as #rrggbb"):
        load_settings(brand_accent="green")
    with pytest.raises(ConfigError, match=r"too light: white text on it has a contrast of 1\.\d:1"):
        load_settings(brand_accent="#ffee88")
