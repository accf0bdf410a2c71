"""Feed bytes to a ParsedFeed: JSON Feed, well-formed XML through lxml, the rest through feedparser.

Every path produces feedparser's shape ({'feed', 'entries', 'version'}) and one function,
_build, turns that into ParsedFeed, so an entry reads the same whichever parser read it.
Both parsers resolve URLs against xml:base and a stand-in base (BASE); _build turns what
hangs off the stand-in back into relative references, resolves links against the feed's
URL and keeps guids as written, so that a guid does not change when a feed moves.
Nothing here raises for bad input: the problem is reported in ParsedFeed.error.
"""

from __future__ import annotations

import codecs
import html
import io
import logging
import posixpath
import re
import xml.sax
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import feedparser
from lxml import etree

from curator.ingest import fastxml, jsonfeed
from curator.ingest.normalize import clean_title, fold_whitespace, to_utc

log = logging.getLogger(__name__)

NEW_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>"
# The parsers' base URI: deep enough that "../../x" stays inside it, on a reserved domain.
BASE = "https://base.curator.invalid/~1/~2/~3/~4/~5/~6/~7/~8/~document"
_BASE_ORIGIN = "https://base.curator.invalid/"
_BASE_PATH = urlsplit(BASE).path
_BASE_DIR = posixpath.dirname(_BASE_PATH)
_BASE_ROOT = "/~1/"
REFUSED = "refused: XML entity declarations"
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# How '<?' starts in encodings that are not ASCII-compatible, when there is no BOM.
_MARKERS = (
    (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"), (b"<\x00?\x00", "utf-16-le"), (b"\x4c\x6f\xa7\x94", "cp037"),
)
# Single-byte encodings that UTF-8 text is most often mislabelled as.
_LATIN = frozenset({"iso8859-1", "cp1252", "iso8859-15", "ascii"})
_DECLARATION = re.compile(r"<\?xml\s[^>]*?\?>")
_ENCODING = re.compile(r"""encoding\s*=\s*["']([^"']+)["']""")
# Text before <?xml is junk (a PHP warning, blank lines) unless the feed itself starts there.
_FEED_START = re.compile(r"<(?:rss|feed|rdf:RDF|RDF|channel)\b|<!\[CDATA\[")
_NONSPACE = re.compile(r"\S")
# Inside a DOCTYPE: quoted strings and comments are skipped whole; brackets and ">" count.
_DTD_TOKEN = re.compile(r""""[^"]*"|'[^']*'|<!--.*?-->|[\[\]>]""", re.DOTALL)
_LXML_POSITION = re.compile(r", line \d+, column \d+$")
_WEB = ("http", "https")
_HTML_PAGE = re.compile(rb"<!DOCTYPE\s+html|<html[\s>]", re.IGNORECASE)
# XHTML content comes back with an end tag on every element, void ones included.
_VOID_PAIR = re.compile(r"<(area|br|col|embed|hr|img|input|source|track|wbr)(\s[^<>]*)?></\1>")


@dataclass(frozen=True)
class ParsedEntry:
    guid: str | None
    link: str | None
    title: str
    summary_html: str
    author: str | None
    published: datetime | None
    updated: datetime | None


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    link: str | None
    entries: list[ParsedEntry]
    parser: str
    error: str | None


def parse_feed(
    content: bytes,
    *,
    url: str,
    content_type: str | None = None,
    force: Literal["feedparser"] | None = None,
) -> ParsedFeed:
    """Parse a fetched feed; `force="feedparser"` skips the lxml path (used to compare them)."""
    try:
        return _parse(bytes(content), url, content_type, force)
    except Exception as exc:  # noqa: BLE001 - one broken feed must not stop ingestion
        log.exception("parsing %s failed", url)
        return ParsedFeed("", None, [], "feedparser", f"could not be parsed ({exc!r})")


def parse_with_feedparser(content: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """The feedparser-only reading of a feed, for checking the lxml path against it."""
    return parse_feed(content, url=url, content_type=content_type, force="feedparser")


def _parse(content: bytes, url: str, content_type: str | None, force: str | None) -> ParsedFeed:
    if not content.strip():
        return ParsedFeed("", None, [], "feedparser", "empty document")
    if _looks_like_json(content, content_type):
        raw, problem = jsonfeed.parse(content)
        return _build(raw, url, "jsonfeed", [problem] if problem else [])
    text, problems = _decode(content, content_type)
    data = _prepare(text, problems)
    if data is None:
        return ParsedFeed("", None, [], "feedparser", "; ".join(problems))
    parser, raw = _read_xml(data, url, problems, force)
    return _build(raw, url, parser, problems, data)


def _read_xml(
    data: bytes, url: str, problems: list[str], force: str | None
) -> tuple[str, dict[str, Any]]:
    """The lxml path when it can read the document, else feedparser, which reads anything."""
    syntax_error = None
    if force != "feedparser":
        try:
            return "lxml", fastxml.parse(data, BASE)
        except etree.XMLSyntaxError as exc:
            syntax_error = _describe_lxml_error(exc)
        except fastxml.Unsupported as exc:
            log.debug("%s: lxml path declined: %s", url, exc)
        except Exception:  # noqa: BLE001 - a fast-path bug must not cost the feed
            log.exception("%s: lxml path failed; using feedparser", url)
    raw, bozo = _run_feedparser(data)
    if bozo:
        # lxml's message names the elements; expat's only says "mismatched tag".
        problems.append(syntax_error or bozo)
    return "feedparser", raw


def _looks_like_json(content: bytes, content_type: str | None) -> bool:
    start = content.lstrip(codecs.BOM_UTF8 + b" \t\r\n")[:1]
    return start == b"{" or (start != b"<" and "json" in (content_type or "").lower())


# -- bytes to text


def _decode(content: bytes, content_type: str | None) -> tuple[str, list[str]]:
    """The document as text, read as RFC 7303 says: BOM, Content-Type charset, declaration.

    A problem is reported only when the document is wrong about itself: reading it as its
    BOM or declaration (or UTF-8, with neither) says would give other text, or fail.
    """
    body, sniffed = content, None
    for bom, name in _BOMS:
        if content.startswith(bom):
            body, sniffed = content[len(bom):], name
            break
    else:
        sniffed = next((name for mark, name in _MARKERS if content.startswith(mark)), None)
    declaration = _DECLARATION.search(body[:4096].decode(sniffed or "latin-1", errors="ignore"))
    found = _ENCODING.search(declaration.group(0)) if declaration else None
    declared = found.group(1).strip() if found else None
    text, used = "", ""
    for label in (sniffed, _charset(content_type), declared, "utf-8", "cp1252", "latin-1"):
        reading = _read(body, label)
        if reading is not None:
            text, used = reading, _codec(label) or ""
            break
    if used in _LATIN and not body.isascii() and _read(body, "utf-8") is not None:
        text, used = body.decode("utf-8"), "utf-8"  # UTF-8 labelled Latin-1: the usual mistake
    own = sniffed or declared
    if _read(body, own or "utf-8") == text:
        return text, []
    if own is None:
        return text, [f"no encoding is declared and the text is not UTF-8; read as {used}"]
    where = "byte order mark" if sniffed else "XML declaration"
    if _codec(own) is None:
        return text, [f"the {where} names an unknown encoding {own!r}; read as {used}"]
    if _read(body, own) is None:
        return text, [f"the {where} says {own}, but the text is not valid {own}; read as {used}"]
    return text, [f"the {where} says {own}, but the text is {used}"]


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        return codecs.lookup("gb18030" if label.lower() == "gb2312" else label).name
    except LookupError:
        return None


def _read(body: bytes, label: str | None) -> str | None:
    """The bytes decoded as `label` says, or None when it cannot be read that way."""
    codec = _codec(label)
    if codec is None:
        return None
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        return None


def _charset(content_type: str | None) -> str | None:
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip(" \"'"):
            return value.strip(" \"'")
    return None


# -- text to the UTF-8 bytes both parsers read


def _prepare(text: str, problems: list[str]) -> bytes | None:
    """UTF-8 XML with our declaration at byte 0 and no entity declarations; None if refused.

    Line numbers are kept: whatever is removed is replaced by as many newlines.
    """
    text = _drop_entity_declarations(NEW_DECLARATION + _without_junk(text, problems), problems)
    data = text.encode("utf-8", errors="replace")
    # feedparser takes entity declarations from everything before the first element.
    first = re.search(rb"<\w", data)
    if re.search(rb"<!ENTITY", data[: first.start() + 1] if first else b"", re.IGNORECASE):
        if REFUSED not in problems:
            problems.append(REFUSED)
        return None
    return data


def _without_junk(text: str, problems: list[str]) -> str:
    """The document after its XML declaration, with blank lines or junk before it dropped."""
    declaration = _DECLARATION.search(text[:4096])
    if declaration is None:
        return text
    junk = text[: declaration.start()]
    if _FEED_START.search(junk):
        return text  # the declaration is inside the feed: leave it for the parsers to refuse
    if junk.strip():
        problems.append(f"text before the XML declaration was ignored: {junk.strip()[:60]!r}")
    elif junk:
        problems.append("blank space before the XML declaration was ignored")
    return "\n" * junk.count("\n") + text[declaration.end():]


def _drop_entity_declarations(text: str, problems: list[str]) -> str:
    """The document without a DOCTYPE that declares entities (billion laughs, XXE)."""
    span = _doctype_span(text)
    if span is None:
        return text
    start, end = span
    if not re.search(r"<!ENTITY", text[start:end], re.IGNORECASE):
        return text
    problems.append(f"{REFUSED}; the DOCTYPE was dropped and the rest read without it")
    return text[:start] + "\n" * text.count("\n", start, end) + text[end:]


def _doctype_span(text: str) -> tuple[int, int] | None:
    """Where <!DOCTYPE ...> sits in the prolog, reading its quotes and internal subset."""
    pos = len(NEW_DECLARATION)
    while True:  # past comments and processing instructions
        nonspace = _NONSPACE.search(text, pos)
        pos = nonspace.start() if nonspace else len(text)
        closer = "-->" if text.startswith("<!--", pos) else "?>" if text.startswith("<?", pos) else ""
        if not closer:
            break
        end = text.find(closer, pos + 2)
        if end < 0:
            return None
        pos = end + len(closer)
    if text[pos:pos + 9].upper() != "<!DOCTYPE":
        return None
    brackets = 0
    for token in _DTD_TOKEN.finditer(text, pos + 9):
        if token.group() == "[":
            brackets += 1
        elif token.group() == "]":
            brackets -= 1
        elif token.group() == ">" and brackets <= 0:
            return pos, token.end()
    return pos, len(text)


# -- feedparser


def _run_feedparser(data: bytes) -> tuple[dict[str, Any], str | None]:
    """feedparser on the prepared bytes; a BytesIO so it never fetches or opens a file."""
    result = feedparser.parse(
        io.BytesIO(data),
        response_headers={"content-type": "application/xml; charset=utf-8",
                          "content-location": BASE},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    raw = {"feed": result["feed"], "entries": result["entries"],
           "version": dict.get(result, "version", "")}
    if not dict.get(result, "bozo"):
        return raw, None
    exc = dict.get(result, "bozo_exception")
    if isinstance(exc, xml.sax.SAXParseException):
        return raw, f"not well-formed XML at line {exc.getLineNumber()}: {exc.getMessage()}"
    return raw, f"not well-formed XML: {exc}"


def _describe_lxml_error(exc: etree.XMLSyntaxError) -> str:
    message = _LXML_POSITION.sub("", exc.msg or str(exc))
    return f"not well-formed XML at line {exc.lineno}: {message}"


# -- feedparser's shape to ParsedFeed


def _build(
    raw: dict[str, Any], url: str, parser: str, problems: list[str], data: bytes = b""
) -> ParsedFeed:
    feed = raw["feed"]
    entries = [_entry(entry, url) for entry in raw["entries"]]
    if not entries and not raw.get("version") and parser != "jsonfeed":
        html_page = _HTML_PAGE.search(data[:4096])
        problems.append("an HTML page, not a feed" if html_page else "not an RSS, RDF or Atom feed")
    _count(problems, "no id, link or title", [
        n for n, e in enumerate(entries, 1) if not (e.guid or e.link or e.title)])
    _count(problems, "an unreadable date", [
        n for n, e in enumerate(raw["entries"], 1)
        if any(dict.get(e, key) and not dict.get(e, f"{key}_parsed")
               for key in ("published", "updated"))])
    return ParsedFeed(
        title=_title(feed),
        link=_web_link(dict.get(feed, "link"), url),
        entries=entries,
        parser=parser,
        error="; ".join(problems) or None,
    )


def _count(problems: list[str], what: str, numbers: list[int]) -> None:
    if numbers:
        some = "1 entry has" if len(numbers) == 1 else f"{len(numbers)} entries have"
        problems.append(f"{some} {what} (first: entry {numbers[0]})")


def _entry(entry: dict[str, Any], url: str) -> ParsedEntry:
    published = to_utc(dict.get(entry, "published_parsed"))
    updated = to_utc(dict.get(entry, "updated_parsed"))
    return ParsedEntry(
        guid=_as_written(dict.get(entry, "id") or "").strip() or None,
        link=_web_link(dict.get(entry, "link"), url),
        title=_title(entry),
        summary_html=_summary_html(entry),
        author=_author(dict.get(entry, "author")),
        published=published or updated,
        updated=updated,
    )


def _title(node: dict[str, Any]) -> str:
    """Titles are HTML only when the feed says so (or feedparser guessed it): then strip tags."""
    value = dict.get(node, "title") or ""
    detail = dict.get(node, "title_detail") or {}
    if "html" in (detail.get("type") or ""):
        return clean_title(value)
    return fold_whitespace(value)


def _summary_html(entry: dict[str, Any]) -> str:
    """The fullest body as HTML: content before summary; plain text escaped."""
    for item in dict.get(entry, "content") or []:
        if item.get("value"):
            return _as_html(item["value"], item.get("type"))
    detail = dict.get(entry, "summary_detail") or {}
    return _as_html(dict.get(entry, "summary") or "", detail.get("type", "text/html"))


def _as_html(value: str, content_type: str | None) -> str:
    if content_type == "application/xhtml+xml":
        return _VOID_PAIR.sub(r"<\1\2>", value)  # "<br></br>" would be two breaks in HTML
    return value if "html" in (content_type or "") else html.escape(value, quote=False)


def _web_link(link: str | None, url: str) -> str | None:
    """An absolute http(s) URL, or None (ids such as tag: and urn: URIs are not links)."""
    if not link or not link.strip():
        return None
    try:
        absolute = urljoin(url, _as_written(link.strip()))
        return absolute if urlsplit(absolute).scheme.lower() in _WEB else None
    except ValueError:
        return None


def _as_written(uri: str) -> str:
    """A URI joined to BASE back to the relative reference it was (normalised)."""
    if not uri.startswith(_BASE_ORIGIN):
        return uri
    parts = urlsplit(uri)
    if parts.path == _BASE_PATH:
        path = ""
    elif parts.path.startswith(_BASE_ROOT):
        path = posixpath.relpath(parts.path, _BASE_DIR) + ("/" if parts.path.endswith("/") else "")
    else:
        path = parts.path  # it was root-relative: "/about"
    query = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return path + query + fragment


def _author(author: str | None) -> str | None:
    if not author or not author.strip():
        return None
    name, email = fastxml.split_author(author.strip())
    return name or email or None
