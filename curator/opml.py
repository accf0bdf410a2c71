"""OPML subscription lists, read safely, for `curator feeds import FILE.opml`.

Exported OPML is often not well-formed XML: a bare & in a title, or HTML with its own
quotes pasted into a description. The reader tries, in order: the file as it is; the
file with bare & and < > inside attribute values escaped; and, last, a lenient scan of
the <outline> tags. A file none of them can read is an OpmlError naming the line.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from curator.errors import CuratorError

_BARE_AMPERSAND = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);|#[0-9]+;|#x[0-9a-fA-F]+;)")
_ATTRIBUTE_VALUE = re.compile(rb"""(=\s*)("[^"]*"|'[^']*')""")
_OUTLINE_TAG = re.compile(r"<(/?)outline\b", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([\w.:-]+)["']""")


class OpmlError(CuratorError):
    """An OPML file is missing, unreadable, or not OPML; says which and where."""


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str | None
    category: str | None


def read_opml(path: Path) -> list[OpmlFeed]:
    """Every feed (an outline with xmlUrl) in the file, in file order, each URL once."""
    data = _read(path)
    try:
        root = _parse(data)
    except etree.XMLSyntaxError as exc:
        feeds = [feed for feed in _scan(data) if feed.url]
        if not feeds:
            line = f":{exc.lineno}" if exc.lineno else ""
            raise OpmlError(f"{path}{line}: not valid XML: {exc.msg}") from None
    else:
        feeds = [_feed(dict(o.attrib), category) for o, category in _outlines(_body(root, path), None)]
    return _first_of_each_url(feeds)


def _read(path: Path) -> bytes:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise OpmlError(f"{path}: no such file") from None
    except OSError as exc:
        raise OpmlError(f"{path}: cannot read: {exc.strerror}") from None
    if not data.strip():
        raise OpmlError(f"{path}: empty file; expected an OPML subscription list")
    return data


def _parse(data: bytes) -> etree._Element:
    """The XML tree, from the file or from its repaired text; raises the file's own error."""
    # Never fetch or expand external entities; libxml2 also caps entity amplification.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        error = exc
    try:
        return etree.fromstring(_repair(data), parser)
    except etree.XMLSyntaxError:
        raise error from None


def _repair(data: bytes) -> bytes:
    """Escape bare & anywhere, and < > inside attribute values."""
    data = _BARE_AMPERSAND.sub(b"&amp;", data)
    return _ATTRIBUTE_VALUE.sub(lambda m: m[1] + m[2].replace(b"<", b"&lt;").replace(b">", b"&gt;"), data)


def _body(root: etree._Element, path: Path) -> etree._Element:
    if _name(root) != "opml":
        raise OpmlError(f"{path}: not an OPML file: the root element is <{_name(root)}>")
    body = next((child for child in root if _name(child) == "body"), None)
    if body is None:
        raise OpmlError(f"{path}:{root.sourceline}: <opml> has no <body> with outlines")
    return body


def _outlines(parent: etree._Element, category: str | None) -> Iterator[tuple[etree._Element, str | None]]:
    """(outline, category) for each outline under `parent`, depth first, in file order."""
    for child in parent:
        if _name(child) != "outline":
            continue
        yield child, category
        attrs = _lower(dict(child.attrib))
        yield from _outlines(child, _clean(attrs.get("text")) or _clean(attrs.get("title")) or category)


def _scan(data: bytes) -> Iterator[OpmlFeed]:
    """Feeds from the <outline> tags of text that is not XML, nesting kept by open/close tags."""
    match = _ENCODING.match(data)
    try:
        text = data.decode(match[1].decode() if match else "utf-8", errors="replace")
    except LookupError:
        text = data.decode("utf-8", errors="replace")
    if not re.search(r"<opml\b", text, re.IGNORECASE):
        return
    parents: list[str | None] = []
    tags = list(_OUTLINE_TAG.finditer(text))
    for i, tag in enumerate(tags):
        if tag[1]:
            if parents:
                parents.pop()
            continue
        span = text[tag.end() : tags[i + 1].start() if i + 1 < len(tags) else len(text)]
        pairs = list(_ATTRIBUTE.finditer(span))
        attrs = {m[1]: html.unescape(m[2] if m[2] is not None else m[3]) for m in pairs}
        category = parents[-1] if parents else None
        yield _feed(attrs, category)
        close = span.find(">", pairs[-1].end() if pairs else 0)
        if close > 0 and not span[:close].rstrip().endswith("/"):
            lowered = _lower(attrs)
            parents.append(_clean(lowered.get("text")) or _clean(lowered.get("title")) or category)


def _feed(attrs: dict[str, str], category: str | None) -> OpmlFeed:
    """An OpmlFeed from an outline's attributes; url is empty when it is not a feed."""
    attrs = _lower(attrs)
    title = _clean(attrs.get("title")) or _clean(attrs.get("text"))
    return OpmlFeed(_clean(attrs.get("xmlurl")) or "", title, category)


def _first_of_each_url(feeds: Iterable[OpmlFeed]) -> list[OpmlFeed]:
    first: dict[str, OpmlFeed] = {}
    for feed in feeds:
        if feed.url:
            first.setdefault(feed.url, feed)
    return list(first.values())


def _name(element: etree._Element) -> str:
    if not isinstance(element.tag, str):  # comments and processing instructions
        return ""
    return etree.QName(element).localname.lower()


def _lower(attrs: dict[str, str]) -> dict[str, str]:
    """Attribute names without namespace, lower-cased: OPML writers disagree on xmlUrl's case."""
    return {name.rpartition("}")[2].rpartition(":")[2].lower(): value for name, value in attrs.items()}


def _clean(value: str | None) -> str | None:
    """Whitespace collapsed; None when blank."""
    if value is None:
        return None
    return " ".join(value.split()) or None
