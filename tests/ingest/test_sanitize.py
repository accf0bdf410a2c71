"""Feed HTML through the allow-list, and plain-text excerpts."""

from __future__ import annotations

import re

import pytest

from curator.ingest.sanitize import excerpt, sanitize_html

BASE = "https://blog.example.com/posts/one"
SCRIPT = re.compile(r"<script", re.IGNORECASE)
HANDLER = re.compile(r"\son\w+\s*=", re.IGNORECASE)
JS = re.compile(r"javascript:", re.IGNORECASE)

HOSTILE = [
    "<script>alert(1)</script><p>ok</p>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<img src="x" ONERROR="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">',
    "<svg onload=alert(1)><circle r=1 /></svg>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "<style>body{background:url(javascript:alert(1))}</style>text",
    '<p style="background:url(javascript:alert(1))">styled</p>',
    '<iframe src="https://evil.example/"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<form action="https://evil.example/"><input name="q"><button>go</button></form>',
    '<object data="x.swf"></object><embed src="x.swf">',
    '<body onload="alert(1)">b</body>',
    '<div onmouseover="alert(1)">hover</div>',
    '<a href="https://ok.example/" onclick="alert(1)">ok</a>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<link rel="stylesheet" href="javascript:alert(1)">',
    '<table background="javascript:alert(1)"><tr><td>c</td></tr></table>',
    "<<script>script>alert(1)<</script>/script>",
    '<img src="https://ok.example/i.png" alt="x" onerror="alert(1)" style="x">',
    '<q cite="javascript:alert(1)">quote</q>',
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_html_comes_out_inert(hostile):
    clean = sanitize_html(hostile, BASE)
    assert not SCRIPT.search(clean)
    assert not HANDLER.search(clean)
    assert not JS.search(clean)
    assert "style=" not in clean
    for tag in ("<iframe", "<form", "<object", "<embed", "<svg", "<style", "<meta", "<base", "<link"):
        assert tag not in clean.lower()


def test_formatting_links_lists_code_tables_and_images_survive():
    html = (
        "<h2>Title</h2><p><strong>b</strong> <em>i</em> <code>x</code></p>"
        "<ul><li>one</li></ul><ol><li>two</li></ol><blockquote>q</blockquote>"
        "<pre>pre</pre><table><tr><th>h</th><td>d</td></tr></table>"
        '<a href="https://example.org/" title="t">link</a><img src="https://example.org/i.png" alt="a">'
    )
    clean = sanitize_html(html, BASE)
    for kept in ("<h2>", "<strong>", "<em>", "<code>", "<ul>", "<li>", "<ol>", "<blockquote>",
                 "<pre>", "<table>", "<th>", "<td>", 'title="t"', 'alt="a"',
                 'src="https://example.org/i.png"'):
        assert kept in clean


def test_links_get_rel_noopener_noreferrer_nofollow():
    clean = sanitize_html('<a href="https://example.org/" rel="me">x</a>', BASE)
    assert 'rel="noopener noreferrer nofollow"' in clean
    assert 'rel="me"' not in clean


def test_relative_urls_are_resolved_against_the_base():
    clean = sanitize_html('<a href="/about">a</a><img src="pic.png">', BASE)
    assert 'href="https://blog.example.com/about"' in clean
    assert 'src="https://blog.example.com/posts/pic.png"' in clean


def test_relative_urls_without_a_usable_base_are_dropped():
    for base in (None, "javascript:alert(1)", "file:///etc/"):
        clean = sanitize_html('<a href="/about">a</a><img src="pic.png">', base)
        assert "href=" not in clean and "src=" not in clean


def test_mailto_is_a_link_but_never_an_image():
    clean = sanitize_html('<a href="mailto:jo@example.com">m</a><img src="mailto:jo@example.com">')
    assert 'href="mailto:jo@example.com"' in clean
    assert "src=" not in clean


def test_non_web_schemes_are_removed():
    clean = sanitize_html('<a href="ftp://example.com/f">f</a><img src="ftp://example.com/i.png">')
    assert "ftp:" not in clean


def test_empty_input():
    assert sanitize_html("") == ""
    assert excerpt("") == ""


def test_excerpt_is_plain_text_with_entities_decoded_and_space_folded():
    html = "<p>Hello&nbsp;<b>world</b></p><p>second &amp; <i>last</i></p><script>x()</script>"
    assert excerpt(html) == "Hello world second & last"


def test_excerpt_cuts_at_a_word_boundary_and_counts_the_ellipsis():
    text = excerpt("<p>" + "word " * 100 + "</p>", 23)
    assert text == "word word word word…"
    assert len(text) <= 23


@pytest.mark.parametrize("limit", [1, 2, 5, 10, 50, 299, 300])
def test_excerpt_never_exceeds_the_limit(limit):
    html = "<p>" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 20 + "</p>"
    text = excerpt(html, limit)
    assert 0 < len(text) <= limit
    assert text.endswith("…")


def test_excerpt_of_one_long_word_is_cut_hard():
    assert excerpt("a" * 400, 10) == "a" * 9 + "…"


def test_excerpt_leaves_short_text_alone():
    assert excerpt("<p>Short text.</p>", 300) == "Short text."
    assert excerpt("<p>exactly10</p>", 9) == "exactly10"
    assert excerpt("<p>exactly10</p>", 8) == "exactly…"


def test_excerpt_of_hostile_html_has_no_markup():
    text = excerpt("<script>alert(1)</script><style>p{}</style><b>safe</b> &lt;tag&gt;")
    assert text == "safe <tag>"
