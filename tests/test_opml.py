"""OPML import: small files for each rule, then the real subscription lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from curator.errors import CuratorError
from curator.opml import OpmlError, OpmlFeed, read_opml
from curator.sources import FeedSource, add_feeds, load_sources


def _repo_root() -> Path:
    here = Path(__file__).resolve()
    return next((p for p in here.parents if (p / "pyproject.toml").exists()), Path("/work/main"))


SHARED = _repo_root().parent / "shared"
OPML_DIR = SHARED / "opml"
NETNEWSWIRE = SHARED / "feeds" / "NetNewsWire"
SHIPPED = _repo_root() / "feeds.yaml"


def shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: the real OPML lists live in ../shared beside the repo")
    return path


def write(tmp_path: Path, body: str, head: str = '<?xml version="1.0"?>\n') -> Path:
    path = tmp_path / "subs.opml"
    path.write_text(head + body, encoding="utf-8")
    return path


NESTED = """\
<opml version="2.0">
  <head><title>Mine</title></head>
  <body>
    <outline text="Loose" XMLURL="https://loose.example/feed" />
    <outline text="Engineering" title="Engineering (all)">
      <outline title="Fowler" text="ignored" xmlUrl="https://martinfowler.com/feed.atom"/>
      <outline text="Deeper">
        <outline text="Julia" xmlurl=" https://jvns.ca/atom.xml "/>
      </outline>
      <outline text="No title" xmlUrl="https://untitled.example/rss" title=""/>
      <outline text="A web page, not a feed" htmlUrl="https://page.example/"/>
    </outline>
    <outline title="Only a title">
      <outline xmlUrl="https://bare.example/rss"/>
      <outline text="Fowler again" xmlUrl="https://martinfowler.com/feed.atom"/>
    </outline>
  </body>
</opml>
"""


def test_nested_outlines(tmp_path):
    assert read_opml(write(tmp_path, NESTED)) == [
        OpmlFeed("https://loose.example/feed", "Loose", None),
        OpmlFeed("https://martinfowler.com/feed.atom", "Fowler", "Engineering"),
        OpmlFeed("https://jvns.ca/atom.xml", "Julia", "Deeper"),
        OpmlFeed("https://untitled.example/rss", "No title", "Engineering"),
        OpmlFeed("https://bare.example/rss", None, "Only a title"),
    ]


def test_namespaced_and_escaped(tmp_path):
    body = (
        '<opml xmlns="http://opml.org/spec2" version="2.0"><body>'
        '<outline text="Q&amp;A" xmlUrl="https://x.example/?a=1&amp;b=2"/></body></opml>'
    )
    assert read_opml(write(tmp_path, body)) == [OpmlFeed("https://x.example/?a=1&b=2", "Q&A", None)]


def test_empty_body(tmp_path):
    assert read_opml(write(tmp_path, "<opml><head/><body/></opml>")) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<opml><body><outline text='a'></body></opml>", r"subs\.opml:2: not valid XML: Opening and ending tag"),
        ("<rss><channel/></rss>", r"subs\.opml: not an OPML file: the root element is <rss>"),
        ("<opml><head/></opml>", r"subs\.opml:2: <opml> has no <body>"),
        ("<html><p>not a list</html>", r"subs\.opml:2: not valid XML: "),
        ("", r"subs\.opml:2: not valid XML: "),
    ],
)
def test_broken_files_say_what_and_where(tmp_path, body, expected):
    with pytest.raises(OpmlError, match=expected):
        read_opml(write(tmp_path, body))


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.opml"
    empty.write_bytes(b"  \n")
    with pytest.raises(OpmlError, match="empty file"):
        read_opml(empty)
    with pytest.raises(OpmlError, match="nope.opml: no such file"):
        read_opml(tmp_path / "nope.opml")
    assert issubclass(OpmlError, CuratorError)


def test_bare_ampersands_are_repaired(tmp_path):
    body = '<opml><body><outline text="Q & A"><outline text="R&D" xmlUrl="https://x.example/?a=1&b=2"/></outline></body></opml>'
    assert read_opml(write(tmp_path, body)) == [OpmlFeed("https://x.example/?a=1&b=2", "R&D", "Q & A")]


def test_quotes_inside_attribute_values_are_read_leniently(tmp_path):
    body = """<opml><body>
      <outline text="Podcasts">
        <outline text="Show" description="Hear <em class="x">this</em> & that" xmlUrl="https://show.example/rss"/>
        <outline text="Inner"><outline text="Deep" xmlUrl="https://deep.example/rss"/></outline>
      </outline>
      <outline text="After" xmlUrl="https://after.example/rss"/>
    </body></opml>"""
    assert read_opml(write(tmp_path, body)) == [
        OpmlFeed("https://show.example/rss", "Show", "Podcasts"),
        OpmlFeed("https://deep.example/rss", "Deep", "Inner"),
        OpmlFeed("https://after.example/rss", "After", None),
    ]


def test_external_entities_are_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    head = f'<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY s SYSTEM "file://{secret}">]>\n'
    body = '<opml><body><outline text="t" xmlUrl="https://a.example/">&s;</outline></body></opml>'
    assert read_opml(write(tmp_path, body, head)) == [OpmlFeed("https://a.example/", "t", None)]
    body = '<opml><body><outline text="&s;" xmlUrl="https://b.example/"/></body></opml>'
    feeds = read_opml(write(tmp_path, body, head))
    assert "TOP-SECRET" not in repr(feeds)


def test_entity_bombs_are_not_expanded(tmp_path):
    entities = '<!ENTITY l0 "hahahahahahahahahaha">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )
    head = f'<?xml version="1.0"?>\n<!DOCTYPE opml [{entities}]>\n'
    body = '<opml><body><outline text="a" xmlUrl="https://a.example/&l9;"/></body></opml>'
    [feed] = read_opml(write(tmp_path, body, head))
    assert len(feed.url) < 100


# --- real subscription lists -----------------------------------------------------------


def test_hacker_news_personal_blogs():
    feeds = read_opml(shared(OPML_DIR / "hn-personal-blogs.opml"))
    assert len(feeds) == 1229
    assert feeds[0] == OpmlFeed("https://blog.jgc.org/feeds/posts/default", "jgrahamc", "HN Personal Blogs")
    assert all(feed.url.startswith(("http://", "https://")) for feed in feeds)


@pytest.mark.parametrize(
    ("name", "category", "count"),
    [
        ("awesome-Programming.opml", "Programming", 50),
        ("awesome-Startups.opml", "Startups", 23),
        ("awesome-Personal_finance.opml", "Personal finance", 28),
        ("awesome-Business_Economy.opml", "Business & Economy", 16),
    ],
)
def test_awesome_lists_are_nested_by_category(name, category, count):
    feeds = read_opml(shared(OPML_DIR / name))
    assert len(feeds) == count
    assert {feed.category for feed in feeds} == {category}
    assert all(feed.title for feed in feeds)


def test_every_shared_opml_file_reads():
    files = sorted(shared(OPML_DIR).glob("*.opml"))
    assert files
    for path in files:
        feeds = read_opml(path)
        assert feeds, path.name
        assert len({feed.url for feed in feeds}) == len(feeds)


def test_netnewswire_with_and_without_title_attributes():
    with_titles = read_opml(shared(NETNEWSWIRE / "Subs.opml"))
    without = read_opml(shared(NETNEWSWIRE / "SubsNoTitleAttributes.opml"))
    assert len(with_titles) == 207
    assert without == with_titles
    julia = next(feed for feed in with_titles if feed.url == "http://jvns.ca/atom.xml")
    assert julia.title == "Julia Evans"
    charlie = next(feed for feed in without if "antipope" in feed.url)
    assert (charlie.title, charlie.category) == ("Charlie's Diary", "Writers")


def test_a_broken_copy_reads_like_the_original(tmp_path):
    """The lenient reader keeps nesting and titles when the XML parser cannot help."""
    original = shared(NETNEWSWIRE / "Subs.opml")
    text = original.read_text(encoding="utf-8")
    broken = tmp_path / "Subs.opml"
    broken.write_text(text.replace('description=""', 'description="<b class="x">bold</b>"', 1), encoding="utf-8")
    assert read_opml(broken) == read_opml(original)


def test_importing_a_large_list_into_feeds_yaml(tmp_path):
    """The path `curator feeds import` takes: read, convert, append, reload."""
    feeds = read_opml(shared(OPML_DIR / "hn-personal-blogs.opml"))
    path = tmp_path / "feeds.yaml"
    path.write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    shipped = load_sources(path)
    listed = {feed.url for feed in shipped.feeds}
    added = add_feeds(path, [FeedSource(url=feed.url, title=feed.title) for feed in feeds])
    assert len(added) == len([feed for feed in feeds if feed.url not in listed])
    reloaded = load_sources(path)
    assert len(reloaded.feeds) == len(shipped.feeds) + len(added)
    assert path.read_text(encoding="utf-8").startswith(SHIPPED.read_text(encoding="utf-8"))
