"""feeds.yaml: the shipped list, every error message with its line, and add_feeds."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest
from pydantic import ValidationError

from curator.errors import ConfigError, NotFound
from curator.sources import FeedSource, Sources, SourcesError, Topic, add_feeds, load_sources

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "feeds.yaml"
REQUIRED_TOPICS = {
    "career",
    "software-engineering",
    "machine-learning",
    "leadership",
    "productivity",
    "learning",
}

GOOD = """\
# My feeds
topics:
  - name: career          # jobs and growth
    description: Jobs.
    keywords: [career, interview]
  - name: learning
    keywords:
      - tutorial
feeds:
  # the first feed
  - url: https://one.example/feed
    topics: [career]
  - url: https://two.example/atom.xml
    title: Two
    weight: 2
"""


def write(folder: Path, text: str, name: str = "feeds.yaml") -> Path:
    path = folder / name
    path.write_text(dedent(text), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SourcesError) as caught:
        load_sources(path)
    return caught.value.problems


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    """The current folder, a fresh tmp_path: files are named as a person typed them."""
    monkeypatch.chdir(tmp_path)
    return Path(".")


# --- the shipped list ------------------------------------------------------------------


def test_shipped_feeds_yaml_loads():
    sources = load_sources(SHIPPED)
    assert len(sources.topics) >= 5
    assert len(sources.feeds) >= 20
    assert set(sources.topic_names) >= REQUIRED_TOPICS


def test_shipped_feeds_are_https_and_hint_declared_topics():
    sources = load_sources(SHIPPED)
    for feed in sources.feeds:
        assert feed.url.startswith("https://"), feed.url
        assert feed.title, feed.url
        assert feed.topics, f"{feed.url} has no topic hints"
        assert set(feed.topics) <= set(sources.topic_names), feed.url


def test_shipped_topics_are_described_and_served():
    sources = load_sources(SHIPPED)
    for topic in sources.topics:
        assert topic.description, topic.name
        assert 10 <= len(topic.keywords) <= 25, topic.name
        assert topic.quota > 0, topic.name
        served = [feed for feed in sources.feeds if topic.name in feed.topics]
        assert len(served) >= 3, f"only {len(served)} feeds hint {topic.name}"


def test_shipped_file_documents_every_field():
    header = SHIPPED.read_text(encoding="utf-8").split("\ntopics:")[0]
    fields = set(Topic.model_fields) | set(FeedSource.model_fields) | set(Sources.model_fields)
    for field in fields:
        assert f"#   {field} " in header or f"# {field}:" in header, field


# --- a good file -----------------------------------------------------------------------


def test_load_good_file(here):
    sources = load_sources(write(here, GOOD))
    assert sources.topic_names == ["career", "learning"]
    career = sources.topic("career")
    assert career.title == "Career"
    assert career.quota == 5 and career.weight == 1.0 and career.exclude == []
    assert sources.feeds[1] == FeedSource(url="https://two.example/atom.xml", title="Two", topics=[], weight=2.0)


def test_default_title_from_name():
    topic = Topic(name="software-engineering", keywords=["code"])
    assert topic.title == "Software Engineering"


def test_unknown_topic_lookup_names_the_topics(here):
    sources = load_sources(write(here, GOOD))
    with pytest.raises(NotFound, match="career, learning"):
        sources.topic("cooking")


def test_file_urls_and_paths_are_accepted(here):
    feeds = [
        FeedSource(url="./demo/feed.xml"),
        FeedSource(url="/srv/feeds/a.rss"),
        FeedSource(url="file:///srv/feeds/b.atom"),
    ]
    assert all(feed.is_file for feed in feeds)
    assert feeds[0].local_path(here) == here / "demo/feed.xml"
    assert feeds[2].local_path(here) == Path("/srv/feeds/b.atom")
    assert FeedSource(url="https://x.example/").local_path(here) is None


def test_urls_are_trimmed_before_comparing(here):
    text = GOOD + "  - url: '  https://one.example/feed '\n"
    assert problems(write(here, text)) == [
        "feeds.yaml:16: feeds[2].url: duplicate feed URL, already listed at feeds[0]"
    ]


# --- errors, one line each, with the line of the field ---------------------------------


def test_bad_url_names_file_line_and_field(here):
    text = GOOD.replace("https://two.example/atom.xml", "two.example/atom.xml")
    [problem] = problems(write(here, text))
    assert problem.startswith("feeds.yaml:13: feeds[1].url: not a URL: 'two.example/atom.xml'")


@pytest.mark.parametrize("url", ["ftp://x.example/feed", "htp:/x", "https://", "https://x.example:99999/", "a b"])
def test_not_urls(here, url):
    text = GOOD.replace("https://two.example/atom.xml", url)
    [problem] = problems(write(here, text))
    assert problem.startswith("feeds.yaml:13: feeds[1].url: not a URL")


def test_path_as_typed_is_the_name_in_messages(tmp_path):
    path = write(tmp_path, GOOD.replace("https://one.example/feed", "nope"))
    [problem] = problems(path)
    assert problem.startswith(f"{path}:11: feeds[0].url: not a URL")


def test_unknown_topic_hint(here):
    text = GOOD.replace("topics: [career]", "topics: [career, carrer]")
    assert problems(write(here, text)) == [
        "feeds.yaml:12: feeds[0].topics[1]: unknown topic 'carrer'; declared topics: career, learning"
    ]


def test_duplicate_url(here):
    text = GOOD + "  - url: https://two.example/atom.xml\n"
    assert problems(write(here, text)) == [
        "feeds.yaml:16: feeds[2].url: duplicate feed URL, already listed at feeds[1]"
    ]


def test_duplicate_topic_name(here):
    text = GOOD.replace("- name: learning", "- name: career")
    assert problems(write(here, text)) == [
        "feeds.yaml:6: topics[1].name: duplicate topic name 'career', already declared at topics[0]"
    ]


def test_missing_keywords(here):
    text = GOOD.replace("    keywords:\n      - tutorial\n", "    description: Learn.\n")
    assert problems(write(here, text)) == ["feeds.yaml:6: topics[1].keywords: missing; list at least one keyword"]


def test_empty_keywords(here):
    text = GOOD.replace("[career, interview]", "[]")
    assert problems(write(here, text)) == ["feeds.yaml:5: topics[0].keywords: list at least one keyword"]


def test_blank_keyword_points_at_the_item(here):
    text = GOOD.replace("      - tutorial\n", "      - tutorial\n      - '  '\n")
    assert problems(write(here, text)) == ["feeds.yaml:9: topics[1].keywords[1]: empty; remove it or write a word"]


def test_unknown_field_suggests_the_right_one(here):
    text = GOOD.replace("    title: Two\n", "    titel: Two\n")
    assert problems(write(here, text)) == [
        "feeds.yaml:14: feeds[1].titel: unknown field 'titel'; did you mean title? allowed: url, title, topics, weight"
    ]


def test_unknown_top_level_field(here):
    assert problems(write(here, GOOD + "feed: []\n")) == [
        "feeds.yaml:16: feed: unknown field 'feed'; did you mean feeds? allowed: topics, feeds"
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("weight: 2", "weight: 0", "feeds.yaml:15: feeds[1].weight: Input should be greater than 0"),
        (
            "weight: 2",
            "weight: 11",
            "feeds.yaml:15: feeds[1].weight: Input should be less than or equal to 10",
        ),
        ("title: Two", "title: 2024", "feeds.yaml:14: feeds[1].title: expected text, got the number 2024"),
        (
            "- name: learning",
            "- name: Self Help",
            "feeds.yaml:6: topics[1].name: not a slug: 'Self Help'; use lowercase letters, "
            "digits and hyphens, e.g. personal-growth",
        ),
    ],
)
def test_field_values(here, old, new, expected):
    assert problems(write(here, GOOD.replace(old, new))) == [expected]


def test_exclude_that_repeats_a_keyword(here):
    text = GOOD.replace("    description: Jobs.\n", "    exclude: [Interview]\n")
    assert problems(write(here, text)) == [
        "feeds.yaml:3: topics[0]: exclude repeats keywords (Interview); keep each word in one list"
    ]


def test_duplicate_yaml_key_is_reported_on_its_own_line(here):
    text = GOOD.replace("    title: Two\n", "    title: Two\n    title: Deux\n")
    assert problems(write(here, text)) == [
        "feeds.yaml:15: feeds[1].title: duplicate key, also on line 14; only the last one counts"
    ]


def test_all_problems_are_reported_together_in_line_order(here):
    text = """\
        topics:
          - name: career
            keywords: [job]
          - name: career
          - name: ok
            keywords: [x]
            colour: red
        feeds:
          - url: not a url
            topics: [nope]
          - url: https://a.example/feed
          - url: https://a.example/feed
            weight: 20
        """
    assert problems(write(here, text)) == [
        "feeds.yaml:4: topics[1].name: duplicate topic name 'career', already declared at topics[0]",
        "feeds.yaml:4: topics[1].keywords: missing; list at least one keyword",
        "feeds.yaml:7: topics[2].colour: unknown field 'colour'; allowed: name, title, "
        "description, keywords, exclude, examples, counter_examples, weight, quota",
        "feeds.yaml:9: feeds[0].url: not a URL: 'not a url'; use an http(s):// address, "
        "a file: URL, or a file path starting with / or ./",
        "feeds.yaml:10: feeds[0].topics[0]: unknown topic 'nope'; declared topics: career, ok",
        "feeds.yaml:12: feeds[2].url: duplicate feed URL, already listed at feeds[1]",
        "feeds.yaml:13: feeds[2].weight: Input should be less than or equal to 10",
    ]


def test_message_is_one_line_per_problem(here):
    with pytest.raises(SourcesError) as caught:
        load_sources(write(here, GOOD.replace("weight: 2", "weight: -1\n    colour: red")))
    assert str(caught.value).splitlines() == caught.value.problems
    assert len(caught.value.problems) == 2
    assert isinstance(caught.value, ConfigError)


def test_yaml_syntax_error_names_the_line(here):
    text = GOOD.replace("[career, interview]", "[career, interview")
    [problem] = problems(write(here, text))
    assert problem.startswith("feeds.yaml:6: invalid YAML: ")
    assert "line 5" in problem  # where the unclosed list began


def test_bad_indentation(here):
    text = GOOD.replace("    description: Jobs.", "   description: Jobs.")
    [problem] = problems(write(here, text))
    assert problem.startswith("feeds.yaml:4: invalid YAML: ")


def test_missing_file(here):
    assert problems(Path("feeds.yaml")) == ["feeds.yaml: no such file; point CURATOR_FEEDS at your feeds.yaml"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# only a comment\n", "feeds.yaml: empty file; it needs topics: and feeds:"),
        ("- a\n- b\n", "feeds.yaml:1: expected a mapping with topics: and feeds:"),
        (
            "feeds: []\n",
            "feeds.yaml:1: topics: missing; declare at least one topic",
        ),
        ("topics: career\n", "feeds.yaml:1: topics: expected a list, got the text 'career'"),
    ],
)
def test_wrong_shapes(here, text, expected):
    assert problems(write(here, text)) == [expected]


def test_not_utf8(here):
    (here / "feeds.yaml").write_bytes(b"topics: [\xff]\n")
    assert problems(Path("feeds.yaml")) == ["feeds.yaml: not UTF-8 text (byte 9)"]


def test_feeds_may_be_empty(here):
    sources = load_sources(write(here, GOOD.split("feeds:")[0] + "feeds:\n"))
    assert sources.feeds == []


def test_sources_built_in_code_are_checked_too():
    topic = Topic(name="career", keywords=["job"])
    with pytest.raises(ValidationError, match="unknown topic 'cooking'"):
        Sources(topics=[topic], feeds=[FeedSource(url="https://a.example/", topics=["cooking"])])
    with pytest.raises(ValidationError, match="duplicate topic name"):
        Sources(topics=[topic, topic])


# --- add_feeds -------------------------------------------------------------------------


def test_add_feeds_appends_text_and_keeps_comments(here):
    path = write(here, GOOD)
    new = [
        FeedSource(url="https://one.example/feed"),  # already listed
        FeedSource(url="https://three.example/rss", title="Three: the #1 feed", topics=["learning"]),
        FeedSource(url="https://four.example/feed", weight=0.5),
        FeedSource(url="https://three.example/rss"),  # twice in the request
    ]
    added = add_feeds(path, new)
    assert [feed.url for feed in added] == ["https://three.example/rss", "https://four.example/feed"]
    assert path.read_text(encoding="utf-8") == GOOD + (
        "  - url: https://three.example/rss\n"
        "    title: 'Three: the #1 feed'\n"
        "    topics: [learning]\n"
        "  - url: https://four.example/feed\n"
        "    weight: 0.5\n"
    )
    sources = load_sources(path)
    assert [feed.url for feed in sources.feeds][-2:] == [f.url for f in added]
    assert sources.feeds[2].title == "Three: the #1 feed"


def test_add_feeds_with_nothing_new_leaves_the_file_alone(here):
    path = write(here, GOOD)
    before = path.stat().st_mtime_ns
    assert add_feeds(path, [FeedSource(url=" https://two.example/atom.xml")]) == []
    assert path.read_text(encoding="utf-8") == GOOD
    assert path.stat().st_mtime_ns == before


def test_add_feeds_when_feeds_is_not_the_last_section(here):
    text = "feeds:\n- url: https://one.example/feed\n# comment after\ntopics:\n- name: a\n  keywords: [x]\n"
    path = write(here, text)
    add_feeds(path, [FeedSource(url="https://two.example/feed", topics=["a"])])
    assert path.read_text(encoding="utf-8") == (
        "feeds:\n- url: https://one.example/feed\n"
        "- url: https://two.example/feed\n  topics: [a]\n"
        "# comment after\ntopics:\n- name: a\n  keywords: [x]\n"
    )


@pytest.mark.parametrize(
    "tail",
    ["feeds: []  # none yet\n", "feeds:\n", "feeds: ~", "", "feeds: [{url: https://one.example/}]\n"],
)
def test_add_feeds_to_empty_missing_or_flow_lists(here, tail):
    head = "topics:\n  - name: a\n    keywords: [x]\n"
    path = write(here, head + tail)
    add_feeds(path, [FeedSource(url="https://two.example/feed", title="Two")])
    text = path.read_text(encoding="utf-8")
    assert text.startswith(head)
    assert "# none yet" in text or "none yet" not in tail
    assert [feed.url for feed in load_sources(path).feeds][-1] == "https://two.example/feed"


def test_add_feeds_refuses_unknown_topics_without_writing(here):
    path = write(here, GOOD)
    with pytest.raises(SourcesError, match="not changed: unknown topic 'cooking'"):
        add_feeds(path, [FeedSource(url="https://new.example/", topics=["cooking"])])
    assert path.read_text(encoding="utf-8") == GOOD


def test_add_feeds_to_a_broken_file_reports_its_problems(here):
    path = write(here, GOOD.replace("weight: 2", "weight: 99"))
    with pytest.raises(SourcesError, match=r"feeds.yaml:15: feeds\[1\].weight"):
        add_feeds(path, [FeedSource(url="https://new.example/")])


def test_add_feeds_keeps_crlf_line_endings(here):
    path = here / "feeds.yaml"
    path.write_bytes(GOOD.replace("\n", "\r\n").encode())
    add_feeds(path, [FeedSource(url="https://new.example/")])
    data = path.read_bytes()
    assert data.startswith(GOOD.replace("\n", "\r\n").encode())
    assert data.endswith(b"  - url: https://new.example/\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_add_feeds_to_the_shipped_file(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    before = load_sources(path)
    added = add_feeds(path, [FeedSource(url="https://new.example/feed", topics=["career"])])
    assert len(added) == 1
    assert len(load_sources(path).feeds) == len(before.feeds) + 1
    assert path.read_text(encoding="utf-8").startswith(SHIPPED.read_text(encoding="utf-8"))


@pytest.mark.parametrize("weight", [0.5, 2.0, 1e-05, 10.0, 1 / 3])
def test_add_feeds_writes_weights_that_read_back(here, weight):
    path = write(here, GOOD)
    add_feeds(path, [FeedSource(url="https://new.example/", weight=weight)])
    assert load_sources(path).feeds[-1].weight == weight
