"""Rendering: variants with substitution tags, safe personal values, inlined CSS, a real text part."""

from __future__ import annotations

import re
import time
import types

import jinja2
import pytest

from curator import render, tokens
from curator.config import Settings
from curator.content import IssueContent, PickView, Section

HOSTILE = '<script>alert("x")</script> & "quotes"'


@pytest.fixture
def conf():
    return Settings(
        secret_key="render-secret-key-0123456789-abcdefgh", base_url="https://news.example.org/",
        postal_address="Curator Ltd, 9 Quay Street, Galway, Ireland", from_name="Growth Notes",
    )


@pytest.fixture
def content():
    return IssueContent(
        period="2026-12",
        subject="Growth resources for December 2026",
        preheader="Five reads on careers and leading teams",
        intro="Welcome to the December issue.\n\nThis month we look at how people grow into leadership roles "
        "without losing sight of the craft that got them there.",
        sections=(
            Section("career", "Career", (
                PickView(HOSTILE, "https://example.com/a-name-game?x=1&y=2", "A summary about jobs.", "",
                         "Jobs Weekly"),
            )),
            Section("learning", "Learning", (
                PickView("Deliberate practice", "https://learn.example/dp", "Summary text " * 60, "", "Learn Blog"),
                PickView("Bad link", "javascript:alert(1)", "", "Editor's note: -name- and -unsubscribe_url-"),
            )),
            Section("leadership", "Leadership", (
                PickView("One-on-ones", "https://lead.example/1on1", "Plain summary.", "The editor's blurb wins.",
                         "Lead Letter"),
            )),
        ),
    )


SUB = {"id": 17, "email": "ann@example.com", "name": "Ann", "topics": ["leadership"]}


@pytest.fixture
def still_clock(monkeypatch):
    """Tokens carry the second they were signed in: two signings of one link are equal only within a second."""
    now = time.time()
    monkeypatch.setattr(tokens, "time", types.SimpleNamespace(time=lambda: now))


def test_a_variant_carries_the_tags_and_personalizing_fills_them(conf, content, still_clock):
    variant = render.render_variant(content, ["leadership"], conf)
    for key in render.SUBSTITUTION_KEYS:
        assert key in variant.html and key in variant.text
    copy = render.personalize(variant, render.recipient_values(conf, SUB))
    url = render.unsubscribe_url(conf, SUB)
    assert url.startswith("https://news.example.org/unsubscribe/")
    for part in (copy.html, copy.text):
        assert url in part and render.preferences_url(conf, SUB) in part
        assert conf.postal_address in part and "https://news.example.org/archive/2026-12" in part
        assert not any(key in part for key in render.SUBSTITUTION_KEYS)
    assert f'href="{url}"' in copy.html and "Hi Ann," in copy.html and "Hi Ann," in copy.text
    assert render.render_for(content, SUB, conf) == copy


def test_the_links_carry_tokens_for_the_subscriber(conf, still_clock):
    row = {"id": 999, "subscriber_id": 17, "email": "ann@example.com", "name": ""}  # a ledger row
    values = render.recipient_values(conf, row)
    claim = tokens.read_token(conf, "unsubscribe", values["-unsubscribe_url-"].rsplit("/", 1)[1])
    assert claim.subscriber_id == 17 and claim.matches("ann@example.com")
    assert tokens.read_token(conf, "preferences", values["-preferences_url-"].rsplit("/", 1)[1]).subscriber_id == 17
    assert values["-name-"] == "there"
    assert render.list_unsubscribe_headers(conf, row) == {
        "List-Unsubscribe": f"<{values['-unsubscribe_url-']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_the_subscribers_topics_come_first(conf, content):
    def order(part: str) -> list[int]:
        return [part.index(title) for title in ("LEADERSHIP", "CAREER", "LEARNING")]

    text = render.render_variant(content, ["leadership"], conf).text
    assert order(text) == sorted(order(text))
    html = render.render_variant(content, "learning,leadership", conf).html
    positions = [html.index(f'id="topic-{t}"') for t in ("learning", "leadership", "career")]
    assert positions == sorted(positions)
    default = render.render_variant(content, [], conf).html
    positions = [default.index(f'id="topic-{t}"') for t in ("career", "learning", "leadership")]
    assert positions == sorted(positions)


def test_feed_text_is_data_never_markup(conf, content):
    html = render.render_for(content, SUB, conf).html
    assert "<script>" not in html
    assert '&lt;script&gt;alert("x")&lt;/script&gt; &amp; "quotes"' in html  # the inliner re-serializes
    assert "javascript:" not in html and "Bad link</p>" in html  # a non-http link is not linked
    assert 'href="https://example.com/a%2Dname-game?x=1&amp;y=2"' in html


def test_tags_inside_feed_text_are_not_replaced(conf, content):
    copy = render.render_for(content, SUB, conf)
    for part in (copy.html, copy.text):
        assert "Editor's note: -\u2060name- and -\u2060unsubscribe_url-" in part
    assert "https://example.com/a%2Dname-game?x=1&y=2" in copy.text


def test_names_are_safe_in_both_parts(conf, content):
    values = render.recipient_values(conf, {**SUB, "name": "Tom & <Jerry> O'Brien"})
    assert values["-name-"] == "Tom &amp; &lt;Jerry&gt; O'Brien"
    copy = render.personalize(render.render_variant(content, [], conf), values)
    assert "Hi Tom &amp; &lt;Jerry&gt; O'Brien," in copy.html and "<Jerry>" not in copy.html


def test_the_blurb_wins_over_the_summary_and_long_summaries_are_cut(conf, content):
    text = render.render_variant(content, [], conf).text
    assert "The editor's blurb wins." in text and "Plain summary." not in text
    assert text.count("Summary text") < 60 and "…" in text


def test_css_is_inlined_and_dark_mode_survives(conf, content):
    html = render.render_variant(content, [], conf).html
    assert re.search(r'<h1 style="[^"]*font-size: 26px', html)
    assert re.search(r'<body style="[^"]*background-color', html)
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    assert "prefers-color-scheme: dark" in style and "max-width: 620px" in style
    assert "h1 { margin" not in style  # ordinary rules moved into style=""
    assert '<meta name="color-scheme" content="light dark">' in html
    assert '<meta name="supported-color-schemes" content="light dark">' in html
    assert '<html lang="en"' in html and 'role="presentation"' in html
    assert re.search(r'<div class="preheader" aria-hidden="true" style="display: none;[^"]*">Five reads', html)
    assert "<img" not in html or all("alt=" in tag for tag in re.findall(r"<img[^>]*>", html))


def test_the_text_part_is_wrapped_with_links_written_out(conf, content):
    text = render.render_for(content, SUB, conf).text
    long_lines = [line for line in text.splitlines() if len(line) > 72]
    assert all(line.strip().startswith("https://") for line in long_lines), long_lines
    assert "  https://learn.example/dp" in text.splitlines()
    assert "Welcome to the December issue." in text and "<" not in text.replace(HOSTILE, "")


def test_the_archive_page_has_no_personal_values(conf, content):
    page = render.render_archive_page(content, conf)
    assert not any(key in page for key in render.SUBSTITUTION_KEYS) and "/unsubscribe/" not in page
    assert 'href="https://news.example.org/subscribe"' in page
    assert "Hi " not in page and "your topics" not in page.lower()
    assert conf.postal_address in page
    positions = [page.index(f'id="topic-{t}"') for t in ("career", "learning", "leadership")]
    assert positions == sorted(positions)


def test_the_footer_names_the_sender_once(conf, content):
    default = Settings(secret_key="render-secret-key-0123456789-abcdefgh")  # postal address "Curator, 1 Example ..."
    emails = {
        "issue": lambda settings: render.render_for(content, SUB, settings),
        "confirmation": lambda settings: render.render_confirmation(settings, SUB),
        "unsubscribe link": lambda settings: render.render_unsubscribe_link(settings, SUB),
    }
    for name, make in emails.items():
        for settings, line in ((default, default.postal_address),
                               (conf, f"Growth Notes · {conf.postal_address}")):
            message = make(settings)
            for part in (message.text, re.sub(r"<[^>]+>", "", message.html)):
                assert part.count(line) == 1, (name, settings.from_name)
                assert f"{settings.from_name} · {settings.from_name}" not in part, name


def test_the_fresh_unsubscribe_link_email(conf, still_clock):
    message = render.render_unsubscribe_link(conf, SUB)
    url = render.unsubscribe_url(conf, SUB)
    assert message.subject == "Your link to unsubscribe from Growth Notes"
    assert url in message.text and f'href="{url}"' in message.html and "Hi Ann," in message.text


def test_the_confirmation_email_links_and_expires(conf):
    mail = render.render_confirmation(conf, {"id": 5, "email": "ann@example.com", "name": "Ann"})
    link = next(line for line in mail.text.splitlines() if line.startswith("https://"))
    assert tokens.read_token(conf, "confirm", link.rsplit("/", 1)[1]).subscriber_id == 5
    assert f'href="{link}"' in mail.html and "7 days" in mail.text and conf.postal_address in mail.text
    assert mail.subject == "Confirm your subscription to Growth Notes"


def test_templates_are_strict(tmp_path):
    (tmp_path / "broken.html").write_text("<p>{{ nowhere.to_be_found }}</p>")
    env = render.environment(tmp_path)
    assert env.autoescape("x.html") and not env.autoescape("x.txt")
    with pytest.raises(jinja2.UndefinedError):
        env.get_template("broken.html").render()
