"""Feed HTML made safe to show (nh3 allow-list) and cut down to plain-text excerpts."""

from __future__ import annotations

import html
import re
from typing import Literal
from urllib.parse import urlsplit

import nh3

from curator.ingest.normalize import fold_whitespace
from curator.safehtml import (  # noqa: F401  (re-exported: the feed sanitizer's allow-list)
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    DROP_WITH_CONTENT,
    IMAGE_SCHEMES,
    LINK_REL,
    URL_SCHEMES,
)

# Block boundaries become spaces in excerpts so "<p>a</p><p>b</p>" reads "a b".
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|pre|hr|dd|dt|dl"
    r"|figure|figcaption|section|article|header|footer)\b[^>]*>",
    re.IGNORECASE,
)
ELLIPSIS = "…"


def sanitize_html(html_text: str, base_url: str | None = None) -> str:
    """HTML from a feed, reduced to formatting, links and images that cannot run code."""
    if not html_text:
        return ""
    # Relative URLs mean nothing in an email; resolve them or drop them.
    relative: tuple[Literal["rewrite_with_base"], str] | Literal["deny"] = "deny"
    if base_url is not None and _is_web_url(base_url):
        relative = ("rewrite_with_base", base_url)
    cleaner = nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_only_web_images,
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
        url_relative=relative,
    )
    return cleaner.clean(html_text)


def _only_web_images(tag: str, attribute: str, value: str) -> str | None:
    """Keep an <img src> only when it is http(s) or relative; mailto: is fine for links only."""
    if tag != "img" or attribute != "src":
        return value
    try:
        scheme = urlsplit(value).scheme.lower()
    except ValueError:
        return None
    return value if not scheme or scheme in IMAGE_SCHEMES else None


def _is_web_url(url: str | None) -> bool:
    if not url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in IMAGE_SCHEMES and bool(parts.netloc)


def excerpt(html_text: str, limit: int = 300) -> str:
    """Plain text of some HTML, at most `limit` characters, cut at a word with an ellipsis."""
    if not html_text or limit <= 0:
        return ""
    spaced = _BLOCK_TAG.sub(" ", html_text)
    text = nh3.clean(spaced, tags=set(), clean_content_tags=set(DROP_WITH_CONTENT))
    text = fold_whitespace(html.unescape(text))
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    # Cut at a word boundary unless that would throw away most of the text.
    space = cut.rfind(" ")
    if space > len(cut) // 2 and not text[len(cut)].isspace():
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—") + ELLIPSIS
