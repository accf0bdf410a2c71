"""Editors' Markdown: formatting survives, hostile input does not, and the text part reads well."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from curator import render, richtext
from curator.config import Settings
from curator.content import IssueContent, PickView, Section


def test_formatting_links_lists_and_line_breaks():
    html = str(richtext.to_html("A **bold** and *quiet* [read](https://a.example/x).\nSame paragraph.\n\n- one\n- two"))
    assert "<strong>bold</strong>" in html and "<em>quiet</em>" in html
    assert '<a href="https://a.example/x" rel="noopener noreferrer nofollow">read</a>' in html
    assert "<br>" in html  # a single line break is kept, not collapsed
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html


def _elements(html: str) -> list[tuple[str, list]]:
    """Every element a browser would build from `html`, with its attributes."""
    found: list[tuple[str, list]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collect().feed(html)
    return found


@pytest.mark.parametrize("hostile", [
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD4=)",
    "<javascript:alert(1)>",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<iframe src=https://evil.example></iframe>",
    '[x](https://a.example/ "t\\" onmouseover=\\"alert(1)")',
    "<a href='javascript:alert(1)'>raw</a>",
    "![tracker](javascript:alert(1))",
])
def test_hostile_input_is_inert(hostile):
    html = str(richtext.to_html(hostile))
    for tag, attrs in _elements(html):
        assert tag in richtext.TAGS, html
        for name, value in attrs:
            assert name in ("href", "title", "rel", "start"), html  # no event handler, no style
            if name == "href":
                assert value.lower().startswith(("https:", "http:", "mailto:")), html


def test_an_unsafe_link_is_not_offered_as_one_in_the_text_part():
    assert richtext.to_text("[click](javascript:alert(1))") == "[click](javascript:alert(1))"  # inert, as typed
    assert richtext.to_text("![t](javascript:alert(1))") == "![t](javascript:alert(1))"


def test_raw_html_is_shown_as_text_not_markup():
    html = str(richtext.to_html("Say <b>hi</b> & <em>bye</em>"))
    assert "&lt;b&gt;hi&lt;/b&gt;" in html and "&amp;" in html and "<b>" not in html


def test_images_are_not_allowed_they_become_links():
    html = str(richtext.to_html("![A chart](https://img.example/c.png)"))
    assert "<img" not in html
    assert '<a href="https://img.example/c.png" rel="noopener noreferrer nofollow">A chart</a>' in html
    assert richtext.to_text("![A chart](https://img.example/c.png)") == "A chart (https://img.example/c.png)"


def test_relative_links_lose_their_address():
    assert "href" not in str(richtext.to_html("[here](/somewhere)"))
    assert richtext.to_text("[here](/somewhere)") == "here"


def test_plain_text_is_readable():
    text = richtext.to_text(
        "Read **this** [guide](https://a.example/g) now.\nA second line.\n\n"
        "- first <https://b.example/>\n- second\n\n1. one\n2. two\n\n> quoted\n\n```\n  code <b>\n```"
    )
    assert text == (
        "Read this guide (https://a.example/g) now.\nA second line.\n\n"
        "- first https://b.example/\n- second\n\n1. one\n2. two\n\n> quoted\n\n      code <b>"
    )


def test_plain_text_wraps_and_indents():
    text = richtext.to_text("word " * 40, width=30, indent="  ")
    lines = text.split("\n")
    assert len(lines) > 3 and all(len(line) <= 30 and line.startswith("  ") for line in lines)


def test_empty_input():
    assert str(richtext.to_html("   ")) == "" and richtext.to_text("\n\n") == ""


@pytest.fixture
def conf():
    return Settings(secret_key="render-secret-key-0123456789-abcdefgh", base_url="https://news.example.org/")


def _content(intro: str, blurb: str) -> IssueContent:
    pick = PickView("A pick", "https://p.example/1", "Its summary.", blurb, "Source")
    return IssueContent(period="2026-12", subject="S", intro=intro, sections=(Section("career", "Career", (pick,)),))


def test_the_email_renders_markdown_in_both_parts(conf):
    content = _content("Hello **all**.\nA new line.", "Start with [the guide](https://g.example/) <script>x</script>")
    rendered = render.render_for(content, {"id": 1, "email": "a@example.com", "name": "", "topics": []}, conf)
    assert "<strong" in rendered.html and ">all</strong>" in rendered.html
    assert re.search(r'<a href="https://g.example/"[^>]*>the guide</a>', rendered.html)
    assert "<script>x" not in rendered.html and "&lt;script&gt;x" in rendered.html
    assert "Hello all.\nA new line." in rendered.text
    assert "  Start with the guide (https://g.example/) <script>x</script>" in rendered.text
    assert "**" not in rendered.text and "Its summary." not in rendered.text  # the blurb replaces the summary


def test_markdown_cannot_smuggle_a_substitution_tag(conf):
    content = _content("Hi **-name-**", "[link](https://x.example/-unsubscribe_url-) -preferences_url-")
    variant = render.render_variant(content, [], conf)
    for key in ("-unsubscribe_url-", "-preferences_url-"):
        assert variant.html.count(key) == variant.text.count(key) == 1  # the footer's, not the editor's
    assert variant.html.count("-name-") == 1 and variant.text.count("-name-") == 1  # only the greeting's
