"""Canonical URLs, clean titles, title keys and UTC times."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from curator.ingest.normalize import canonical_url, clean_title, title_key, to_utc


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("HTTP://Example.COM:80/a/b?x=1#frag", None, "http://example.com/a/b?x=1"),
        ("https://example.com:443", None, "https://example.com/"),
        ("https://example.com:8443/a", None, "https://example.com:8443/a"),
        ("/post?id=3", "https://example.com/blog/", "https://example.com/post?id=3"),
        ("post", "https://example.com/blog/", "https://example.com/blog/post"),
        ("//cdn.example.com/x", "https://example.com/", "https://cdn.example.com/x"),
        ("  https://example.com/a  ", None, "https://example.com/a"),
        ("https://bücher.de/ä ö", None, "https://xn--bcher-kva.de/%C3%A4%20%C3%B6"),
        ("http://[::1]:80/x", None, "http://[::1]/x"),
        ("https://user:secret@example.com/", None, "https://example.com/"),
        ("https://example.com/a%2Fb?x=%20", None, "https://example.com/a%2Fb?x=%20"),
    ],
)
def test_canonical_url_normalizes_scheme_host_port_and_fragment(url, base, expected):
    assert canonical_url(url, base) == expected


def test_canonical_url_drops_tracking_parameters_and_keeps_the_rest_in_order():
    url = (
        "https://example.com/a?utm_source=news&z=1&fbclid=abc&a=2&gclid=x&mc_cid=1&mc_eid=2"
        "&igshid=3&yclid=4&msclkid=5&_hsenc=6&_hsmi=7&ref_src=twsrc&UTM_Medium=m&q=a+b&empty="
    )
    assert canonical_url(url) == "https://example.com/a?z=1&a=2&q=a+b&empty="


def test_canonical_url_drops_an_emptied_query():
    assert canonical_url("https://example.com/?utm_campaign=x") == "https://example.com/"


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "mailto:a@example.com", "ftp://example.com/f", "data:text/html,x",
     "", "   ", "http://", "http://example.com:99999/", "tag:example.com,2004:1"],
)
def test_canonical_url_refuses_what_is_not_a_web_address(url):
    assert canonical_url(url) is None


def test_clean_title_strips_tags_then_decodes_entities_and_folds_space():
    assert clean_title(" A &amp; <b>B</b>\n\t&lt;c&gt; &nbsp; d ") == "A & B <c> d"
    assert clean_title("a < b > c") == "a < b > c"  # not tags
    assert clean_title(None) == ""
    assert clean_title("") == ""


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("How we scaled Postgres - Acme Blog", "how we scaled postgres"),
        ("How we scaled Postgres | Acme", "how we scaled postgres"),
        ("HOW WE SCALED POSTGRES", "how we scaled postgres"),
        ("How we  scaled\u00a0Postgres!", "how we scaled postgres"),
        ("“Smart” quotes, and: punctuation!!", "smart quotes and punctuation"),
        ("Don’t panic", "dont panic"),
        ("Python 3.12 - What's new", "python 3 12 whats new"),  # head too short to be a title
        ("Notes - a very long tail that is clearly part of the title", None),
    ],
)
def test_title_key(title, key):
    if key is None:
        assert "tail" in title_key(title)
    else:
        assert title_key(title) == key


def test_title_key_makes_near_duplicates_from_two_sites_meet():
    assert title_key("Ten Tips for Faster Builds — Site One") == title_key(
        "Ten tips for faster builds | Another Site"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (time.gmtime(0), datetime(1970, 1, 1, tzinfo=UTC)),
        (datetime(2024, 1, 1, 12), datetime(2024, 1, 1, 12, tzinfo=UTC)),
        (datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))),
         datetime(2024, 1, 1, 10, tzinfo=UTC)),
        (date(2020, 2, 3), datetime(2020, 2, 3, tzinfo=UTC)),
        ("2024-01-02T03:04:05+02:00", datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("Tue, 10 Jun 2003 04:00:00 GMT", datetime(2003, 6, 10, 4, tzinfo=UTC)),
        ("Tue, 10 Jun 2003 04:00:00 -0000", datetime(2003, 6, 10, 4, tzinfo=UTC)),
        ("10 Jun 2003 04:00 EST", datetime(2003, 6, 10, 9, tzinfo=UTC)),
        ("2003-06-10", datetime(2003, 6, 10, tzinfo=UTC)),
    ],
)
def test_to_utc(value, expected):
    result = to_utc(value)
    assert result == expected
    assert result is not None and result.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", [None, "", "garbage", "32 Foo 2003", 5, object()])
def test_to_utc_gives_none_for_what_is_not_a_time(value):
    assert to_utc(value) is None
