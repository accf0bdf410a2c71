"""parse_feed: the fields of each entry, both XML paths agreeing, encodings, broken and hostile input."""

from __future__ import annotations

import json
import random
import re
import resource
from dataclasses import fields
from datetime import UTC, datetime

import pytest

from curator.ingest.parse import ParsedEntry, ParsedFeed, parse_feed, parse_with_feedparser

URL = "https://example.net/feeds/main.xml"

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel xml:base="https://example.org/blog/"><title>Blog &amp; more</title><link>/</link>
<item><title>First &lt;em&gt;post&lt;/em&gt;</title><link>posts/1?a=1&amp;b=2</link>
<guid isPermaLink="false">  post-1  </guid><dc:creator>Jo Writer</dc:creator>
<pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate>
<description>Short &amp;amp; sweet</description>
<content:encoded><![CDATA[<p>Full <a href="/x">text</a> &#8217;</p>]]></content:encoded></item>
<item><title>Only encoded</title><guid>https://example.org/blog/2</guid>
<content:encoded><![CDATA[<p>Body</p>]]></content:encoded></item>
<item><title>Podcast</title><link>https://example.org/p/3</link>
<description>Desc</description><author>jo@example.org (Jo)</author>
<itunes:summary xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">Longer</itunes:summary>
</item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://example.com/">
<title type="html">A &lt;b&gt;bold&lt;/b&gt; feed</title>
<link rel="self" href="/feed.atom"/><link href="/"/>
<entry xml:base="/2024/">
<title type="text">x &lt; y &amp; z</title>
<link rel="alternate" type="text/html" href="post.html"/><link rel="enclosure" href="a.mp3"/>
<id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
<updated>2024-01-02T03:04:05+02:00</updated>
<author><name>Ann</name><email>ann@example.com</email></author>
<summary type="text">Plain &lt;summary&gt;</summary>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p class="a">Hello <b>world</b><br/>
 &amp; more</p><!-- c --><img src="i.png"/></div></content>
</entry>
<entry><title>Two divs</title><id>tag:example.com,2024:2</id>
<published>2024-02-01T00:00:00Z</published>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">a</div><div
 xmlns="http://www.w3.org/1999/xhtml">b</div></content></entry>
<entry><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">X<i>html</i> title</div></title>
<id>tag:example.com,2024:3</id><content type="html">&lt;p&gt;escaped&lt;/p&gt;</content></entry>
<entry><id>tag:example.com,2024:4</id><title>Text content</title><content type="text">1 &lt; 2</content>
<link rel="alternate" href="https://other.example/x"/></entry>
</feed>"""

ATOM03 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#">
<title>Old Atom</title><link rel="alternate" type="text/html" href="http://example.org/"/>
<entry><title>Entry</title><link rel="alternate" type="text/html" href="http://example.org/1"/>
<id>tag:example.org,2003:1</id><issued>2003-12-13T08:29:29-04:00</issued>
<modified>2003-12-13T18:30:02Z</modified>
<content type="text/html" mode="escaped">&lt;p&gt;Hi&lt;/p&gt;</content>
</entry></feed>"""

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="http://example.org/rss"><title>RDF</title><link>http://example.org/</link>
<items><rdf:Seq><rdf:li rdf:resource="http://example.org/1"/></rdf:Seq></items>
<textinput rdf:resource="http://example.org/search"/></channel>
<image rdf:about="http://example.org/i.png"><title>Img</title><url>http://example.org/i.png</url></image>
<item rdf:about="http://example.org/1"><title>One</title><link>http://example.org/1</link>
<dc:date>2004-01-01T00:00:00Z</dc:date><dc:creator>Bob</dc:creator><description>d</description></item>
<textinput rdf:about="http://example.org/search"><title>Search</title><name>q</name></textinput>
</rdf:RDF>"""

MEDIA = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel><title>M</title><atom:link rel="self" href="http://example.org/feed"/>
<link>http://example.org/</link>
<image><title>Logo</title><url>http://example.org/l.png</url><link>http://example.org/</link></image>
<item><media:title>Media first</media:title><title>Real title</title><guid>http://example.org/m1</guid>
<media:group><media:title>Grouped</media:title><media:description>Group desc</media:description>
<media:content url="http://example.org/v.mp4"/></media:group></item>
<item><title></title><title>Second</title><atom:link href="http://example.org/m2"/>
<link>http://example.org/m2-plain</link><source url="http://example.org/src">Source</source>
<title>after source</title><category domain="x">Cat</category><foo bar="1">text</foo></item>
<item><title>a<!-- c -->b</title><guid isPermaLink="True">relative-guid</guid>
<description>x &#146; y</description></item>
</channel></rss>"""

NETSCAPE = (
    b'<?xml version="1.0" encoding="ISO-8859-1"?>\n'
    b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
    b' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n'
    b"<rss version=\"0.91\"><channel><title>Caf\xe9</title><link>http://example.org/</link>"
    b"<item><title>\xc9t\xe9</title><link>http://example.org/ete</link>"
    b"<description>\x93quoted\x94</description></item></channel></rss>"
)

TRICKY = {"rss": RSS, "atom": ATOM, "atom03": ATOM03, "rdf": RDF, "media": MEDIA,
          "netscape": NETSCAPE}


def texts(feed: ParsedFeed) -> str:
    """Every string a parse produced, to look for what must not be there."""
    parts = [feed.title, feed.link or "", feed.error or ""]
    for entry in feed.entries:
        parts += [str(getattr(entry, f.name) or "") for f in fields(ParsedEntry)]
    return "\n".join(parts)


def same_entries(a: ParsedFeed, b: ParsedFeed) -> None:
    assert (a.title, a.link) == (b.title, b.link)
    assert len(a.entries) == len(b.entries)
    for x, y in zip(a.entries, b.entries, strict=True):
        assert (x.guid, x.link, x.title, x.author, x.published, x.updated) == (
            y.guid, y.link, y.title, y.author, y.published, y.updated)
        assert re.sub(r"\s+", "", x.summary_html) == re.sub(r"\s+", "", y.summary_html)


# -- what an entry holds


def test_rss_entries():
    feed = parse_feed(RSS, url=URL)
    assert (feed.parser, feed.error) == ("lxml", None)
    assert (feed.title, feed.link) == ("Blog & more", "https://example.org/")
    first, only_encoded, podcast = feed.entries
    assert first == ParsedEntry(
        guid="post-1",
        link="https://example.org/blog/posts/1?a=1&b=2",
        title="First post",
        summary_html='<p>Full <a href="/x">text</a> &#8217;</p>',
        author="Jo Writer",
        published=datetime(2003, 6, 10, 4, tzinfo=UTC),
        updated=None,
    )
    assert only_encoded.guid == only_encoded.link == "https://example.org/blog/2"
    assert only_encoded.summary_html == "<p>Body</p>"
    # feedparser's rule, kept on both paths: a second summary-like element is the content.
    assert (podcast.summary_html, podcast.author, podcast.guid) == ("Longer", "Jo", None)


def test_atom_entries():
    feed = parse_feed(ATOM, url=URL)
    assert (feed.parser, feed.error) == ("lxml", None)
    assert (feed.title, feed.link) == ("A bold feed", "https://example.com/")
    xhtml, two_divs, html_title, text_content = feed.entries
    assert xhtml.link == "https://example.com/2024/post.html"
    assert xhtml.title == "x < y & z"  # type="text": a literal "<", not a tag
    assert xhtml.author == "Ann"
    assert xhtml.published == xhtml.updated == datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert xhtml.summary_html.startswith('<p class="a">Hello <b>world</b><br>')
    assert xhtml.summary_html.endswith('<img src="i.png">')
    assert two_divs.summary_html == "<div>a</div><div>b</div>"
    assert two_divs.link is None  # a tag: id is not a web address
    assert html_title.title == "Xhtml title"
    assert html_title.summary_html == "<p>escaped</p>"
    assert text_content.summary_html == "1 &lt; 2"
    assert text_content.link == "https://other.example/x"


def test_atom03_and_rdf_entries():
    old = parse_feed(ATOM03, url=URL)
    assert (old.parser, old.error, old.title) == ("lxml", None, "Old Atom")
    [entry] = old.entries
    assert entry.published == datetime(2003, 12, 13, 12, 29, 29, tzinfo=UTC)
    assert entry.updated == datetime(2003, 12, 13, 18, 30, 2, tzinfo=UTC)
    assert entry.summary_html == "<p>Hi</p>"
    rdf = parse_feed(RDF, url=URL)
    assert (rdf.parser, rdf.error, rdf.title, rdf.link) == ("lxml", None, "RDF", "http://example.org/")
    [item] = rdf.entries
    assert (item.guid, item.link, item.author) == ("http://example.org/1", "http://example.org/1", "Bob")


def test_json_feed_entries():
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON",
        "home_page_url": "https://example.org/",
        "authors": [{"name": "Feed Author"}],
        "items": [
            {"id": "1", "url": "/a", "title": " T &amp; <b> ", "content_text": "x < y",
             "date_published": "2024-05-01T10:00:00+02:00", "date_modified": "2024-05-02T00:00:00Z"},
            {"id": 2, "external_url": "https://elsewhere.example/", "content_html": "<p>h</p>",
             "summary": "s", "authors": [{"name": "A"}, {"name": "B"}]},
            {"id": "3", "author": {"name": "Legacy"}, "summary": "only <summary>"},
        ],
    }
    feed = parse_feed(json.dumps(doc).encode(), url="https://example.org/feed.json")
    assert (feed.parser, feed.error, feed.title, feed.link) == (
        "jsonfeed", None, "JSON", "https://example.org/")
    first, second, third = feed.entries
    assert (first.guid, first.link, first.title) == ("1", "https://example.org/a", "T &amp; <b>")
    assert first.summary_html == "x &lt; y"
    assert first.author == "Feed Author"
    assert first.published == datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert first.updated == datetime(2024, 5, 2, tzinfo=UTC)
    assert (second.guid, second.link, second.summary_html, second.author) == (
        "2", "https://elsewhere.example/", "<p>h</p>", "A, B")
    assert (third.author, third.summary_html, third.published) == ("Legacy", "only &lt;summary&gt;", None)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b'{"version": "https://jsonfeed.org/version/1", "items": [', "invalid JSON at line 1"),
        (b'{"rss": {"channel": {}}}', "not a JSON Feed"),
        (b'{"items": [{"id": "1"}]}', '"version" is missing'),
        (b'{"version": "1", "items": [{"id": "1", "date_published": "soon"}]}', "unreadable"),
        (b'{"version": "1", "items": [5, {"url": "https://e.org/"}]}', "item 1 is not an object"),
        (b'{"items": ' + b"[" * 100_000, "invalid JSON"),
    ],
)
def test_json_feed_problems_are_reported(content, error):
    feed = parse_feed(content, url=URL)
    assert feed.parser == "jsonfeed"
    assert feed.error is not None and error in feed.error


def test_json_is_recognised_by_content_or_content_type():
    doc = b'\xef\xbb\xbf  \n{"version": "https://jsonfeed.org/version/1", "items": [{"id": "x"}]}'
    assert parse_feed(doc, url=URL).parser == "jsonfeed"
    bare = b'{"version": "https://jsonfeed.org/version/1", "items": []}'
    assert parse_feed(bare, url=URL, content_type="application/feed+json").parser == "jsonfeed"
    assert parse_feed(RSS, url=URL, content_type="application/json").parser == "lxml"


# -- both XML paths read the same


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_lxml_path_reads_what_feedparser_reads(name):
    fast = parse_feed(TRICKY[name], url=URL)
    slow = parse_with_feedparser(TRICKY[name], url=URL)
    assert (fast.parser, slow.parser) == ("lxml", "feedparser")
    same_entries(fast, slow)
    assert fast.error == slow.error


XML_BASE = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><id>1</id><link href="a"/>
<content type="html" xml:base="http://other.example/deep/post/">x</content></entry>
<entry><id>2</id><link href="/b?x=1#top"/></entry>
<entry xml:base="sub/"><id>tag:example.org,2024:3</id><link href="../c"/></entry>
<entry><id>4</id><link href="//cdn.example.org/d"/></entry>
</feed>"""


@pytest.mark.parametrize("parse", [parse_feed, parse_with_feedparser])
def test_guids_stay_as_written_and_links_follow_the_feed_url(parse):
    here = parse(XML_BASE, url="https://site.example/feeds/atom.xml")
    moved = parse(XML_BASE, url="https://new.example/x/y/atom.xml")
    assert [e.guid for e in here.entries] == ["1", "2", "tag:example.org,2024:3", "4"]
    assert [e.guid for e in moved.entries] == [e.guid for e in here.entries]
    assert [e.link for e in here.entries] == [
        "https://site.example/feeds/a",
        "https://site.example/b?x=1#top",  # an earlier entry's xml:base does not leak here
        "https://site.example/feeds/c",
        "https://cdn.example.org/d",
    ]
    assert moved.entries[0].link == "https://new.example/x/y/a"


def test_feedparser_quirks_are_kept_on_both_paths():
    feed = parse_feed(MEDIA, url=URL)
    first, second, third = feed.entries
    assert (first.title, first.summary_html) == ("Real title", "Group desc")
    assert (second.title, second.link) == ("after source", "http://example.org/m2-plain")
    assert (third.title, third.guid, third.link) == ("ab", "relative-guid", None)
    assert third.summary_html == "x \u2019 y"  # a C1 control read as Windows-1252


# -- bytes and encodings


def test_blank_lines_and_bom_before_the_declaration_are_skipped_and_reported():
    feed = parse_feed(b"\xef\xbb\xbf\n\n  \n" + RSS, url=URL)
    assert feed.parser == "lxml"
    assert len(feed.entries) == 3
    assert feed.error == "blank space before the XML declaration was ignored"


def test_junk_before_the_declaration_is_skipped_and_reported():
    feed = parse_feed(b"<br />\n<b>Warning</b>: something in x.php on line 3\n" + RSS, url=URL)
    assert (feed.parser, len(feed.entries)) == ("lxml", 3)
    assert feed.error is not None and "text before the XML declaration" in feed.error


def test_declared_single_byte_encodings():
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?><rss><channel><title>Café</title></channel></rss>'
    assert parse_feed(latin.encode("latin-1"), url=URL).title == "Café"
    russian = '<?xml version="1.0" encoding="windows-1251"?><rss><channel><title>Привет</title></channel></rss>'
    feed = parse_feed(russian.encode("cp1251"), url=URL)
    assert (feed.title, feed.error) == ("Привет", None)
    chinese = '<?xml version="1.0" encoding="GB2312"?><rss><channel><title>中文标题</title></channel></rss>'
    assert parse_feed(chinese.encode("gb2312"), url=URL).title == "中文标题"


def test_utf16_with_a_bom():
    doc = '<?xml version="1.0" encoding="UTF-16"?><rss><channel><title>Ünï</title></channel></rss>'
    feed = parse_feed(doc.encode("utf-16"), url=URL)
    assert (feed.title, feed.error, feed.parser) == ("Ünï", None, "lxml")


def test_content_type_charset_overrides_a_wrong_declaration():
    doc = '<?xml version="1.0" encoding="utf-8"?><rss><channel><title>Привет</title></channel></rss>'
    feed = parse_feed(doc.encode("cp1251"), url=URL, content_type="text/xml; charset=windows-1251")
    assert feed.title == "Привет"
    assert feed.error == (
        "the XML declaration says utf-8, but the text is not valid utf-8; read as cp1251")


def test_a_wrong_content_type_charset_is_not_the_document_s_fault():
    doc = '<?xml version="1.0" encoding="utf-8"?><rss><channel><title>Café</title></channel></rss>'
    feed = parse_feed(doc.encode(), url=URL, content_type="text/xml; charset=ISO-8859-1")
    assert (feed.title, feed.error) == ("Café", None)
    ascii_doc = b"<rss><channel><title>plain</title></channel></rss>"
    feed = parse_feed(ascii_doc, url=URL, content_type="application/rss+xml; charset=us-ascii")
    assert (feed.title, feed.error) == ("plain", None)


def test_utf8_declared_as_latin1_is_read_as_utf8_and_reported():
    doc = '<?xml version="1.0" encoding="ISO-8859-1"?><rss><channel><title>Café €</title></channel></rss>'
    feed = parse_feed(doc.encode("utf-8"), url=URL)
    assert feed.title == "Café €"
    assert feed.error == "the XML declaration says ISO-8859-1, but the text is utf-8"


def test_latin1_declared_as_utf8_is_read_as_windows_1252_and_reported():
    doc = '<?xml version="1.0" encoding="utf-8"?><rss><channel><title>Café “x”</title></channel></rss>'
    feed = parse_feed(doc.encode("cp1252"), url=URL)
    assert feed.title == "Café “x”"
    assert feed.error == (
        "the XML declaration says utf-8, but the text is not valid utf-8; read as cp1252")


def test_unknown_declared_encoding_is_reported():
    doc = b'<?xml version="1.0" encoding="bogus-9"?><rss><channel><title>t</title></channel></rss>'
    feed = parse_feed(doc, url=URL)
    assert feed.title == "t"
    assert feed.error is not None and "unknown encoding 'bogus-9'" in feed.error


# -- broken documents


def test_broken_xml_is_recovered_by_feedparser_with_an_error_naming_the_line():
    doc = RSS.replace(b"<title>Only encoded</title>", b"<title>Only encoded</titl>")
    feed = parse_feed(doc, url=URL)
    assert feed.parser == "feedparser"
    assert len(feed.entries) == 3
    assert feed.error is not None
    assert re.match(r"not well-formed XML at line 10: .*mismatch", feed.error)


def test_bare_ampersand_is_recovered():
    doc = b"<rss><channel><item><title>Tom & Jerry</title><link>http://e.org/?a=1&b=2</link></item></channel></rss>"
    feed = parse_feed(doc, url=URL)
    assert feed.error is not None and "not well-formed" in feed.error
    assert [e.title for e in feed.entries] == ["Tom & Jerry"]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "empty document"),
        (b" \n\t ", "empty document"),
        (b"<html><head><title>Oops</title></head><body>502</body></html>", "an HTML page, not a feed"),
        (b"<note><to>Tove</to></note>", "not an RSS, RDF or Atom feed"),
        (b"plain text", "not an RSS, RDF or Atom feed"),
    ],
)
def test_what_is_not_a_feed_says_so(content, error):
    feed = parse_feed(content, url=URL)
    assert feed.entries == []
    assert feed.error is not None and error in feed.error


def test_truncated_documents_never_raise_and_report_an_error():
    for end in range(1, len(ATOM), 37):
        feed = parse_feed(ATOM[:end], url=URL)
        assert isinstance(feed, ParsedFeed)
        assert feed.error is not None, end


def test_random_bytes_never_raise():
    rng = random.Random(20240601)
    samples = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))) for _ in range(60)]
    samples += [b"\x00" * 64, b"<", b"<?xml", b"\xef\xbb\xbf", b"{", b"null", b"[]", b'{"items": 5}',
                b"<rss>" * 20_000, b"\xff\xfe<\x00r\x00", b"<?xml version='1.0' encoding='utf-32'?>"]
    for content in samples:
        feed = parse_feed(content, url=URL)
        assert isinstance(feed, ParsedFeed)
        assert feed.error is not None or feed.entries == []


def test_force_feedparser_skips_the_lxml_path():
    assert parse_feed(RSS, url=URL, force="feedparser").parser == "feedparser"
    assert parse_with_feedparser(RSS, url=URL).parser == "feedparser"


# -- hostile XML


def billion_laughs(encoding: str = "utf-8") -> bytes:
    levels = "\n".join(
        f' <!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    doc = (f'<?xml version="1.0" encoding="{encoding}"?>\n<!DOCTYPE rss [\n <!ENTITY lol0 "lol">\n'
           f"{levels}\n]>\n<rss version=\"2.0\"><channel><title>&lol9;</title>"
           "<item><title>t &lol9;</title><guid>g1</guid></item></channel></rss>")
    return doc.encode(encoding)


def quadratic_blowup() -> bytes:
    value, references = "x" * 100_000, "&a;" * 20_000
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "{value}">\n]>\n<rss version="2.0">'
        f"<channel><item><title>{references}</title></item></channel></rss>"
    ).encode()


def external_entity(path: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [ <!ENTITY xxe SYSTEM "file://{path}"> ]>\n'
        '<rss version="2.0"><channel><title>&xxe;</title><item><title>a &xxe; b</title>'
        "<description>&xxe;</description><guid>g</guid></item></channel></rss>"
    ).encode()


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


BOMBS = {
    "billion laughs": billion_laughs(),
    "billion laughs in UTF-16": billion_laughs("utf-16"),
    "quadratic blowup": quadratic_blowup(),
    "quadratic blowup in UTF-16": quadratic_blowup().decode().encode("utf-16"),
    "hidden behind a comment": quadratic_blowup().replace(b"<!DOCTYPE", b"<!-- <a -->\n<!DOCTYPE"),
    "lowercase doctype": quadratic_blowup().replace(b"<!DOCTYPE", b"<!doctype").replace(
        b"<!ENTITY", b"<!entity"),
    "quote trick": quadratic_blowup().replace(b"<!ENTITY a", b'<!ENTITY q "]>">\n<!ENTITY a'),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
@pytest.mark.parametrize("parse", [parse_feed, parse_with_feedparser])
def test_entity_bombs_are_refused_without_blowing_up(name, parse):
    before = max_rss_mb()
    feed = parse(BOMBS[name], url=URL)
    assert max_rss_mb() - before < 100
    assert len(texts(feed)) < 200_000  # expanded, these would be gigabytes
    assert "lollollol" not in texts(feed)
    assert "xxxxxxxxxx" * 10 not in texts(feed)
    assert feed.error is not None and feed.error.startswith("refused: XML entity declarations")


@pytest.mark.parametrize("parse", [parse_feed, parse_with_feedparser])
def test_external_entities_leak_nothing(parse, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    for path in ("/etc/passwd", str(secret)):
        feed = parse(external_entity(path), url=URL)
        assert "root:" not in texts(feed)
        assert "TOP-SECRET-MARKER" not in texts(feed)
        assert feed.error is not None and "refused: XML entity declarations" in feed.error
        assert [e.guid for e in feed.entries] == ["g"]


def test_external_dtd_and_parameter_entities_are_not_loaded(tmp_path):
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY leak "TOP-SECRET-MARKER">')
    doctype = f'<!DOCTYPE rss SYSTEM "file://{dtd}">'
    doc = f'<?xml version="1.0"?>\n{doctype}\n<rss><channel><title>&leak;</title></channel></rss>'
    assert "TOP-SECRET-MARKER" not in texts(parse_feed(doc.encode(), url=URL))
    pe = (f'<?xml version="1.0"?>\n<!DOCTYPE rss [ <!ENTITY % p SYSTEM "file://{dtd}"> %p; ]>\n'
          "<rss><channel><title>&leak;</title></channel></rss>")
    feed = parse_feed(pe.encode(), url=URL)
    assert "TOP-SECRET-MARKER" not in texts(feed)
    assert feed.error is not None


def test_content_that_looks_like_a_path_or_url_is_never_opened(tmp_path):
    local = tmp_path / "feed.xml"
    local.write_bytes(RSS.replace(b"Blog &amp; more", b"TOP-SECRET-MARKER"))
    for content in (str(local).encode(), b"http://127.0.0.1:9/feed.xml", b"/etc/passwd"):
        for parse in (parse_feed, parse_with_feedparser):
            feed = parse(content, url=URL)
            assert feed.entries == []
            assert "TOP-SECRET-MARKER" not in texts(feed) and "root:" not in texts(feed)
