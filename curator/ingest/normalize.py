"""Canonical forms of what feeds give us: URLs, titles and times."""

from __future__ import annotations

import calendar
import contextlib
import email.utils
import html
import re
import time
import unicodedata
from datetime import UTC, date, datetime
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from feedparser.datetimes import _parse_date

# Query parameters that only say how a reader arrived; the same article has them or not.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "gad_source", "srsltid",
    "mc_cid", "mc_eid", "igshid", "igsh", "yclid", "msclkid", "twclid", "ttclid",
    "li_fat_id", "_hsenc", "_hsmi", "__hstc", "__hssc", "__hsfp", "hsctatracking",
    "ref_src", "ref_url", "mkt_tok", "oly_anon_id", "oly_enc_id", "_openstat",
    "vero_conv", "vero_id", "wickedid", "rb_clickid", "s_kwcid", "ncid",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")

DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left alone when re-quoting; "%" keeps existing escapes as they are.
_PATH_SAFE = "/%:@!$&'()*+,;=~-._"
_QUERY_SAFE = _PATH_SAFE + "?"

_TAG = re.compile(r"<(?:[A-Za-z/!?][^<>]*)>")
_BLOCK_TAG = re.compile(r"</?(?:br|p|div|li|h[1-6]|tr|td|th|hr|blockquote|pre)\b", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
# " - Site", " | Site", " — Site", " · Site" at the end of a title.
_APOSTROPHES = re.compile("['’ʼ]")
_SITE_SUFFIX = re.compile(r"\s+(?:[-|–—·:]{1,2})\s+([^-|–—·]{1,40})$")


def canonical_url(url: str, base: str | None = None) -> str | None:
    """The URL two links to the same page share, or None for non-http(s) or unparsable."""
    if not url or not url.strip():
        return None
    try:
        parts = urlsplit(urljoin(base, url.strip()) if base else url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if scheme not in DEFAULT_PORTS or not host:
        return None
    netloc = _netloc(host, port, scheme)
    path = quote(parts.path, safe=_PATH_SAFE) or "/"
    return urlunsplit((scheme, netloc, path, _clean_query(parts.query), ""))


def _netloc(host: str, port: int | None, scheme: str) -> str:
    """Host in ASCII, lowercase, without the scheme's default port (and without credentials)."""
    with contextlib.suppress(UnicodeError):  # not a valid IDN: keep the lowercase Unicode
        host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return host


def _clean_query(query: str) -> str:
    """The query without tracking parameters, other pairs kept in order and as written."""
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        key = pair.split("=", 1)[0].lower()
        if key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES):
            continue
        kept.append(quote(pair, safe=_QUERY_SAFE))
    return "&".join(kept)


def fold_whitespace(text: str) -> str:
    """Runs of whitespace (non-breaking spaces too) as one space, ends trimmed."""
    return _SPACE.sub(" ", text).strip()


def clean_title(text: str | None) -> str:
    """A title as plain text: tags stripped, entities decoded, whitespace folded."""
    if not text:
        return ""
    # Tags go before entities are decoded, so "&lt;b&gt;" stays visible as "<b>".
    return fold_whitespace(html.unescape(_TAG.sub(_tag_gap, text)))


def _tag_gap(tag: re.Match[str]) -> str:
    """What a stripped tag leaves: a space between blocks, nothing inside a word."""
    return " " if _BLOCK_TAG.match(tag.group()) else ""


def title_key(title: str) -> str:
    """Key under which near-identical titles from different feeds meet."""
    text = unicodedata.normalize("NFKC", fold_whitespace(title))
    match = _SITE_SUFFIX.search(text)
    # Only a short tail after a long enough head is a site name, not half of the title.
    if match and len(text[: match.start()].split()) >= 3 and len(match.group(1).split()) <= 4:
        text = text[: match.start()]
    text = _APOSTROPHES.sub("", text.casefold())  # "don't" and "dont" meet
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    return fold_whitespace(text)


def to_utc(value: object) -> datetime | None:
    """An aware UTC datetime from a struct_time, datetime, date or date string; else None."""
    try:
        if isinstance(value, time.struct_time):
            # feedparser's struct_times are already UTC.
            return datetime.fromtimestamp(calendar.timegm(value), UTC)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                return value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, str):
            return _parse_text_date(value.strip())
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _parse_text_date(text: str) -> datetime | None:
    """RFC 3339 first, then RFC 822, then whatever feedparser can read."""
    if not text:
        return None
    try:
        return to_utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:
        return to_utc(email.utils.parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        pass
    parsed = _parse_date(text)
    return to_utc(parsed) if parsed else None
