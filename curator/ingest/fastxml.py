"""Fast path for well-formed RSS 0.9x/1.0/2.0, RDF and Atom 0.3/1.0, read with lxml.

It reads what feedparser reads, the way feedparser reads it: the same namespace table, the
same handlers for the elements behind ids, links, titles, dates, summaries, content and
authors, the same URL joining and date parser. It replays feedparser's bookkeeping (its
element stack, title depth, summary-or-content rule) over lxml's events instead of
expat's callbacks, which is where feedparser spends its time. The result has the shape of
feedparser's, so parse.py turns either into a ParsedFeed with the same code. A document
it cannot mirror raises Unsupported and goes to feedparser.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Callable
from typing import Any, ClassVar, cast
from xml.sax.saxutils import escape

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from lxml import etree

NAMESPACES = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
END_HANDLERS = frozenset(n[5:] for n in dir(_FeedParserMixin) if n.startswith("_end_"))
USERLAND = "http://backend.userland.com/rss"
XHTML = "http://www.w3.org/1999/xhtml"
XLINK = "http://www.w3.org/1999/xlink"
HTML_TYPES = frozenset({"application/xhtml+xml", "text/html"})
FEED_ROOTS = frozenset({"rss", "rdf", "feed"})
EMAIL = re.compile(
    r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)
_LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")
_C1 = re.compile("[\x80-\x9f]")

# Elements feedparser pushes on its stack without special handling:
# name -> (name pushed, expecting text, name popped at the end tag).
PLAIN: dict[str, tuple[str | None, int, str]] = {
    "width": ("width", 0, "width"), "height": ("height", 0, "height"),
    "language": ("language", 1, "language"), "dc_language": ("language", 1, "language"),
    "created": ("created", 1, "created"), "dcterms_created": ("created", 1, "created"),
    "expirationdate": ("expired", 1, "expired"), "generator": ("generator", 1, "generator"),
    "newlocation": ("newlocation", 1, "newlocation"), "tags": ("tags", 1, "tags"),
    "media_rating": ("rating", 1, "rating"), "media_credit": ("credit", 1, "credit"),
    "media_restriction": ("restriction", 1, "restriction"),
    "media_license": ("license", 1, "license"), "media_thumbnail": ("url", 1, "url"),
    "media_player": ("media_player", 0, "media_player"),
    "itunes_image": ("itunes_image", 0, "itunes_image"),
    "itunes_link": ("itunes_image", 0, "itunes_link"),
    "creativecommons_license": ("license", 1, "license"),
    "dcterms_valid": ("validity", 1, "validity"),
    "where": ("where", 0, "where"), "georss_where": ("where", 0, "where"),
    "georssgeom": ("geometry", 0, "georssgeom"),
    "gml_pos": ("pos", 0, "pos"), "gml_poslist": ("pos", 0, "pos"),
    **{n: ("category", 1, "category")
       for n in ("category", "keywords", "dc_subject", "media_category", "itunes_category")},
    **{n: ("geometry", 0, "geometry") for n in (
        "georss_point", "georss_line", "georss_polygon", "georss_box", "gml_point",
        "gml_linestring", "gml_polygon", "gml_exterior", "gml_linearring")},
    **{n: (None, 0, n) for n in (
        "rss", "cloud", "enclosure", "media_content", "media_group", "psc_chapters",
        "psc_chapter", "cc_license")},
}
CONTENT_LIKE = {  # name -> (stored as, default type)
    "subtitle": ("subtitle", "text/plain"), "tagline": ("subtitle", "text/plain"),
    "itunes_subtitle": ("subtitle", "text/plain"), "rights": ("rights", "text/plain"),
    "copyright": ("rights", "text/plain"), "dc_rights": ("rights", "text/plain"),
    "info": ("info", "text/plain"), "feedburner_browserfriendly": ("info", "text/plain"),
}
AUTHORS = frozenset({"author", "managingeditor", "dc_author", "dc_creator", "itunes_author"})
PUBLISHED = frozenset({"published", "issued", "pubdate", "dcterms_issued"})
UPDATED = frozenset({"updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"})
TITLES = frozenset({"title", "dc_title", "media_title"})
DESCRIPTIONS = frozenset({"description", "dc_description", "media_description", "abstract"})
CONTENTS = {  # name -> default type
    "content": "text/plain", "body": "application/xhtml+xml",
    "xhtml_body": "application/xhtml+xml", "content_encoded": "text/html",
    "fullitem": "text/html",
}
CAN_BE_RELATIVE = _FeedParserMixin.can_be_relative_uri
# Stack entries whose popped text ends up in a field Curator reads.
READ = frozenset({"title", "link", "id", "published", "updated", "description", "summary",
                  "content", "author", "name", "email", "href", "publisher"})


looks_like_html = _FeedParserMixin.looks_like_html
map_content_type = _FeedParserMixin.map_content_type


class Unsupported(Exception):
    """Well-formed, but only feedparser reads it exactly as feedparser would."""


def parse(data: bytes, base: str) -> dict[str, Any]:
    """UTF-8 feed XML in feedparser's shape: {'feed': {...}, 'entries': [...], 'version'}.

    `base` is what feedparser would get as the Content-Location: relative URLs and
    permalink guids are joined to it (and to xml:base) as feedparser joins them.

    Raises etree.XMLSyntaxError when the document is not well-formed, Unsupported when
    it is but this module does not mirror feedparser for it.
    """
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
        encoding="utf-8",
    )
    root = etree.fromstring(data, parser)
    if etree.QName(root).localname.lower() not in FEED_ROOTS:
        raise Unsupported(f"root element <{etree.QName(root).localname}> is not a feed")
    if root.getroottree().docinfo.internalDTD is not None and _has_entity_references(root):
        raise Unsupported("entity references")
    return _Walker(base).run(root)


def _has_entity_references(root: etree._Element) -> bool:
    """Unexpanded entities (resolve_entities=False) that feedparser would read differently."""
    return any(True for _ in root.iter(etree.Entity))


def push_only(pushed: str, expecting: int) -> Callable[[_Walker, dict[str, str]], None]:
    """A start handler that only pushes, as most of feedparser's do."""
    def start(self: _Walker, attrs: dict[str, str]) -> None:
        self.push(pushed, expecting)
    return start


def pop_only(popped: str) -> Callable[[_Walker, str], None]:
    """An end handler that only pops."""
    def end(self: _Walker, name: str) -> None:
        self.pop(popped)
    return end


class _Walker:
    """feedparser's _FeedParserMixin bookkeeping, for the elements Curator reads."""

    def __init__(self, base: str) -> None:
        self.feed: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []
        self.version = ""
        self.stack: list[list[Any]] = []  # feedparser's elementstack: [name, expecting, pieces]
        self.names: list[str] = []  # handler name of each open element
        self.baseuri = base
        self.basestack: list[str] = []
        self.namespacemap: dict[str | None, str] = {}
        self.in_use: dict[str, str] = {}
        self.contentparams: dict[str, Any] = {}
        self.sourcedata: dict[str, Any] = {}
        self.depth_map: dict[int, dict[str, int]] = {}
        self.depth = 0
        self.title_depth = -1
        self.infeed = self.inentry = self.incontent = self.insource = 0
        self.inimage = self.intextinput = self.inauthor = self.incontributor = 0
        self.inpublisher = self.guidislink = self.has_content = 0
        self.summary_key: str | None = None
        self.open_markup = 0  # elements open inside XHTML content
        self.bases: dict[tuple[str, str | None], str] = {}
        self.settled: set[str] = set()
        self.names_seen: dict[str, tuple[str, str, str]] = {}

    def run(self, root: etree._Element) -> dict[str, Any]:
        start, end, handle_data = self.start, self.end, self.handle_data  # hot loop
        events = etree.iterwalk(root, events=("start", "end", "start-ns", "comment", "pi"))
        for event, node in events:
            if event == "start":
                start(node)
                text = node.text
                if text:
                    handle_data(text)
            elif event == "end":
                end(node)
                text = node.tail
                if text:
                    handle_data(text)
            elif event == "start-ns":
                self.track_namespace(*node)
            elif node.tail:  # a comment or processing instruction: only its tail is text
                handle_data(node.tail)
        return {"feed": self.feed, "entries": self.entries, "version": self.version}

    # -- names and attributes as feedparser's strict (expat) parser reports them

    def track_namespace(self, prefix: str, uri: str) -> None:
        self.names_seen.clear()  # a declaration can change what a tag is called
        lower = uri.lower()
        if not uri:
            return
        if lower == XLINK:
            raise Unsupported("xlink namespace")  # feedparser adds it to the next element
        key = prefix or None
        if not self.version:
            if (key, lower) == (None, "http://my.netscape.com/rdf/simple/0.9/"):
                self.version = "rss090"
            elif lower == "http://purl.org/rss/1.0/":
                self.version = "rss10"
            elif lower == "http://www.w3.org/2005/atom":
                self.version = "atom10"
        if "backend.userland.com/rss" in lower:
            uri = lower = USERLAND
        if lower in NAMESPACES:
            self.namespacemap[key] = NAMESPACES[lower]
            self.in_use[NAMESPACES[lower]] = uri
        else:
            self.in_use[prefix or ""] = uri

    def handler_name(self, tag: str) -> tuple[str, str, str]:
        """(tag as feedparser's strict parser names it, handler prefix, handler name)."""
        if tag not in self.names_seen:
            self.names_seen[tag] = self.name_tag(tag)
        return self.names_seen[tag]

    def name_tag(self, clark: str) -> tuple[str, str, str]:
        namespace, _, local = clark[1:].rpartition("}") if clark[0] == "{" else ("", "", clark)
        local = local.lower()
        if "backend.userland.com/rss" in namespace.lower():
            namespace = USERLAND
        prefix = NAMESPACES.get(namespace.lower())
        if prefix is None and namespace:
            prefix = next((p for p, uri in self.in_use.items() if p and uri == namespace), "")
        if not prefix:
            return local, "", local
        prefix = prefix.lower()
        mapped = self.namespacemap.get(prefix, prefix)
        return f"{prefix}:{local}", mapped, f"{mapped}_{local}" if mapped else local

    @staticmethod
    def attributes(node: etree._Element) -> dict[str, str]:
        attrs: dict[str, str] = {}
        for key, value in cast("dict[str, str]", node.attrib).items():
            if key[0] == "{":
                namespace, local = key[1:].split("}", 1)
                prefix = NAMESPACES.get(namespace.lower(), "")
                attrs[(f"{prefix}:{local}" if prefix else local).lower()] = value
                attrs.setdefault(local.lower(), value)  # expat also reports the bare name
            else:
                key = key.lower()
                attrs[key] = value.lower() if key in ("rel", "type") else value
        return attrs

    # -- feedparser's element stack and contexts

    def push(self, name: str, expecting_text: int, text: str | None = None) -> None:
        self.stack.append([name, expecting_text, [text] if text else []])

    def handle_data(self, text: str, escape_it: bool = True) -> None:
        if not self.stack:
            return
        top = self.stack[-1]
        if top[0] not in READ:
            return  # text nobody reads (an item's own whitespace, an unknown element)
        if escape_it and self.contentparams.get("type") == "application/xhtml+xml":
            text = escape(text)
        top[2].append(text)

    def context(self) -> dict[str, Any]:
        if self.insource:
            return self.sourcedata
        if self.inimage and "image" in self.feed:
            return self.feed["image"]  # type: ignore[no-any-return]
        if self.intextinput:
            if "textinput" not in self.feed:
                raise Unsupported("textinput inside an entry")  # feedparser raises KeyError
            return self.feed["textinput"]  # type: ignore[no-any-return]
        if self.inentry:
            return self.entries[-1]
        return self.feed

    def save(self, key: str, value: Any, overwrite: bool = False) -> None:
        if overwrite:
            self.context()[key] = value
        else:
            self.context().setdefault(key, value)

    def join_base(self, base: str, given: str | None) -> str:
        """The base URI inside an element, as feedparser tracks xml:base (memoised: it is slow)."""
        key = (base, given)
        if key not in self.bases:
            if base:
                self.bases[key] = make_safe_absolute_uri(base, given or base) or base
            else:
                self.bases[key] = _urljoin(base, given or base)
            if given is None and self.bases[key] == base:
                self.settled.add(base)  # an element without xml:base keeps this base as it is
        return self.bases[key]

    def resolve(self, uri: str) -> str:
        return _urljoin(self.baseuri or "", uri)  # type: ignore[no-any-return]

    def start(self, node: etree._Element) -> None:
        self.depth += 1
        if self.incontent:
            ctype = self.contentparams.get("type", "xml")
            if ctype != "application/xhtml+xml":
                raise Unsupported(f"markup inside {ctype} content")
            self.markup_start(node)
            return
        attrs = self.attributes(node) if len(node.attrib) else {}
        given = attrs.get("xml:base", attrs.get("base")) if attrs else None
        if given is not None or self.baseuri not in self.settled:
            self.baseuri = self.join_base(self.baseuri, given)
        self.basestack.append(self.baseuri)
        tag, prefix, name = self.handler_name(node.tag)
        if not prefix:
            if tag not in ("title", "link", "description", "name"):
                self.intextinput = 0
            if tag not in ("title", "link", "description", "url", "href", "width", "height"):
                self.inimage = 0
        self.names.append(name)
        self.start_element(name, attrs)

    def end(self, node: etree._Element) -> None:
        if self.open_markup:
            self.open_markup -= 1
            self.handle_data(f"</{etree.QName(node).localname.lower()}>", escape_it=False)
            self.depth -= 1
            return
        self.end_element(self.names.pop())
        if self.basestack:
            self.basestack.pop()
            if self.basestack and self.basestack[-1]:
                self.baseuri = self.basestack[-1]
        self.depth -= 1

    def markup_start(self, node: etree._Element) -> None:
        """A start tag inside XHTML content, written out as feedparser writes it."""
        qname = etree.QName(node)
        local = qname.localname.lower()
        if qname.namespace not in (None, XHTML) or local in ("svg", "math", "body"):
            raise Unsupported(f"<{local}> inside XHTML content")
        if qname.namespace is None and local in END_HANDLERS:
            raise Unsupported(f"<{local}> without namespace inside XHTML content")
        pieces = []
        for key, value in cast("dict[str, str]", node.attrib).items():
            if key[0] == "{":
                raise Unsupported("namespaced attribute inside XHTML content")
            key = key.lower()
            value = value.lower() if key in ("rel", "type") else value
            pieces.append(f' {key}="{escape(value, {chr(34): "&quot;"})}"')
        self.handle_data(f"<{local}{''.join(pieces)}>", escape_it=False)
        self.open_markup += 1

    # -- feedparser's _start_* and _end_* handlers, one method each

    def start_element(self, name: str, attrs: dict[str, str]) -> None:
        handler = self.START.get(name)
        if handler:
            handler(self, attrs)
        elif name in CONTENT_LIKE:
            stored, default = CONTENT_LIKE[name]
            self.push_content(stored, attrs, default, 1)
        elif name in PLAIN:
            pushed, expecting, _ = PLAIN[name]
            if pushed:
                self.push(pushed, expecting)
        elif not attrs:
            self.push(name, 1)  # unknown element: feedparser keeps its text apart

    def end_element(self, name: str) -> None:
        handler = self.END.get(name)
        if handler:
            handler(self, name)
        elif name in CONTENT_LIKE:
            self.pop_content(CONTENT_LIKE[name][0])
        else:
            self.pop(PLAIN[name][2] if name in PLAIN else name)

    def s_title(self, attrs: dict[str, str]) -> None:
        self.push_content("title", attrs, "text/plain", self.infeed or self.inentry or self.insource)

    def e_title(self, name: str) -> None:
        title_depth = self.title_depth
        if self.pop_content("title"):
            self.title_depth = self.depth
        if name == "media_title":
            self.title_depth = title_depth

    def s_id(self, attrs: dict[str, str]) -> None:
        self.guidislink = int(attrs.get("ispermalink", "true") == "true")
        self.push("id", 1)

    def e_id(self, name: str) -> None:
        value = self.pop("id")
        self.save("guidislink", self.guidislink and "link" not in self.context())
        if self.guidislink:
            self.save("link", value)

    def e_published(self, name: str) -> None:
        self.save("published_parsed", _parse_date(self.pop("published")), overwrite=True)

    def e_updated(self, name: str) -> None:
        self.save("updated_parsed", _parse_date(self.pop("updated")), overwrite=True)

    def s_description(self, attrs: dict[str, str]) -> None:
        if "summary" in self.context() and not self.has_content:
            self.summary_key = "content"  # a second summary-like element counts as content
            self.start_content(attrs)
        else:
            self.push_content("description", attrs, "text/html", self.infeed or self.inentry
                              or self.insource)

    def s_abstract(self, attrs: dict[str, str]) -> None:
        self.push_content("description", attrs, "text/plain", self.infeed or self.inentry
                          or self.insource)

    def s_summary(self, attrs: dict[str, str]) -> None:
        if "summary" in self.context() and not self.has_content:
            self.summary_key = "content"
            self.start_content(attrs)
        else:
            self.summary_key = "summary"
            self.push_content("summary", attrs, "text/plain", 1)

    def e_summary(self, name: str) -> None:
        if self.summary_key == "content":
            self.end_content()
        elif name in DESCRIPTIONS:
            self.pop_content("description")
        else:
            self.pop_content(self.summary_key or "summary")
        self.summary_key = None

    def s_content(self, attrs: dict[str, str]) -> None:
        if self.names[-1] in ("content_encoded", "fullitem"):
            self.has_content = 1
        self.push_content("content", attrs, CONTENTS[self.names[-1]], 1)

    def s_author(self, attrs: dict[str, str]) -> None:
        self.inauthor = 1
        self.push("author", 1)
        self.context().setdefault("authors", []).append({})

    def e_author(self, name: str) -> None:
        self.pop("author")
        self.inauthor = 0
        self.sync_author_detail()

    def s_contributor(self, attrs: dict[str, str]) -> None:
        self.incontributor = 1
        self.context().setdefault("contributors", []).append({})
        self.push("name" if self.names[-1] == "dc_contributor" else "contributor", 0)

    def e_contributor(self, name: str) -> None:
        if name == "dc_contributor":
            self.e_name(name)
        else:
            self.pop("contributor")
        self.incontributor = 0

    def e_name(self, name: str) -> None:
        value = self.pop("name")
        if self.inpublisher:
            self.save_author("name", value, "publisher")
        elif self.inauthor:
            self.save_author("name", value)

    def e_email(self, name: str) -> None:
        value = self.pop("email")
        if self.inpublisher:
            self.save_author("email", value, "publisher")
        elif self.inauthor:
            self.save_author("email", value)

    def e_url(self, name: str) -> None:
        value = self.pop("href")
        if self.inauthor:
            self.save_author("href", value)

    def s_owner(self, attrs: dict[str, str]) -> None:
        self.inpublisher = 1
        self.push("publisher", 0)

    def e_publisher(self, name: str) -> None:
        self.pop("publisher")
        if name == "itunes_owner":
            self.inpublisher = 0
        self.sync_author_detail("publisher")

    def s_channel(self, attrs: dict[str, str]) -> None:
        self.infeed = 1
        self.cdf_common(attrs)

    def s_feed(self, attrs: dict[str, str]) -> None:
        self.infeed = 1
        if not self.version:
            versions = {"0.1": "atom01", "0.2": "atom02", "0.3": "atom03"}
            self.version = versions.get(attrs.get("version", ""), "atom")

    def e_feed(self, name: str) -> None:
        self.infeed = 0

    def s_rss(self, attrs: dict[str, str]) -> None:
        if not self.version.startswith("rss"):
            given = attrs.get("version", "")
            versions = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
            self.version = versions.get(given) or ("rss20" if given.startswith("2.") else "rss")

    def s_image(self, attrs: dict[str, str]) -> None:
        if not self.inentry:
            self.context().setdefault("image", {})
        self.inimage = 1
        self.title_depth = -1
        self.push("image", 0)

    def e_image(self, name: str) -> None:
        self.pop("image")
        self.inimage = 0

    def s_textinput(self, attrs: dict[str, str]) -> None:
        self.context().setdefault("textinput", {})
        self.intextinput = 1
        self.title_depth = -1
        self.push("textinput", 0)

    def e_textinput(self, name: str) -> None:
        self.pop("textinput")
        self.intextinput = 0

    def s_source(self, attrs: dict[str, str]) -> None:
        self.push("source", 1)
        self.insource = 1
        self.title_depth = -1

    def e_source(self, name: str) -> None:
        self.insource = 0
        self.pop("source")
        self.sourcedata = {}

    def e_item(self, name: str) -> None:
        self.pop("item")
        self.inentry = self.has_content = 0

    def s_item(self, attrs: dict[str, str]) -> None:
        self.entries.append({})
        self.push("item", 0)
        self.inentry = 1
        self.guidislink = 0
        self.title_depth = -1
        about = attrs.get(f"{self.namespacemap.get('rdf', 'rdf')}:about")
        if about:
            self.context()["id"] = about
        self.cdf_common(attrs)

    def cdf_common(self, attrs: dict[str, str]) -> None:
        """Channel Definition Format attributes: lastmod and href on channel and item."""
        if "lastmod" in attrs:
            self.push("updated", 1, attrs["lastmod"])
            self.save("updated_parsed", _parse_date(self.pop("updated")), overwrite=True)
        if "href" in attrs:
            self.s_link({})
            self.stack[-1][2] = [attrs["href"]]
            self.pop("link")

    def s_link(self, attrs: dict[str, str]) -> None:
        attrs.setdefault("rel", "alternate")
        attrs.setdefault("type", "application/atom+xml" if attrs["rel"] == "self" else "text/html")
        context = self.context()
        href = attrs.get("url", attrs.get("uri", attrs.get("href")))
        if href:
            attrs.pop("url", None)
            attrs.pop("uri", None)
            attrs["href"] = href
        if "href" not in attrs:
            self.push("link", self.infeed or self.inentry or self.insource)
        elif attrs["rel"] == "alternate" and map_content_type(attrs["type"]) in HTML_TYPES:
            context["link"] = self.resolve(attrs["href"])

    def start_content(self, attrs: dict[str, str]) -> None:
        self.has_content = 1
        self.push_content("content", attrs, "text/plain", 1)
        self.push("content", 1)  # feedparser pushes twice; the first entry is never popped

    def end_content(self) -> None:
        ctype = map_content_type(self.contentparams.get("type", ""))
        value = self.pop_content("content")
        if ctype in HTML_TYPES or ctype == "text/plain":
            self.save("summary", value)

    def push_content(self, tag: str, attrs: dict[str, str], default: str, expecting: int) -> None:
        self.incontent += 1
        ctype = map_content_type(attrs.get("type", default))
        self.contentparams = {"type": ctype, "base64": 0}
        if attrs.get("mode", "") == "base64" or not (
            ctype.startswith("text/") or ctype.endswith(("+xml", "/xml"))
        ):
            self.contentparams["base64"] = 1
        self.push(tag, expecting)

    def pop_content(self, tag: str) -> str | None:
        value = self.pop(tag)
        self.incontent -= 1
        self.contentparams.clear()
        return value

    def save_author(self, key: str, value: Any, prefix: str = "author") -> None:
        context = self.context()
        context.setdefault(prefix + "_detail", {})[key] = value
        self.sync_author_detail()  # the author's, even for a publisher: feedparser does so
        context.setdefault("authors", [{}])[-1][key] = value

    def sync_author_detail(self, key: str = "author") -> None:
        context = self.context()
        detail = context.get(f"{key}s", [{}])[-1]
        if detail:
            name, email = detail.get("name"), detail.get("email")
            if name or email:
                context[key] = f"{name} ({email})" if name and email else name or email
            return
        author = context.get(key)
        if not author:
            return
        name, email = split_author(author)
        if name or email:
            context.setdefault(f"{key}_detail", detail)
        if name:
            detail["name"] = name
        if email:
            detail["email"] = email

    START: ClassVar[dict[str, Callable[[_Walker, dict[str, str]], None]]] = {
        "item": s_item, "entry": s_item, "link": s_link, "guid": s_id, "id": s_id,
        "content": start_content, "abstract": s_abstract, "itunes_owner": s_owner,
        "channel": s_channel, "feed": s_feed, "rss": s_rss, "image": s_image,
        "textinput": s_textinput, "source": s_source,
        "summary": s_summary, "itunes_summary": s_summary,
        "contributor": s_contributor, "dc_contributor": s_contributor,
        **dict.fromkeys(TITLES, s_title), **dict.fromkeys(AUTHORS, s_author),
        **dict.fromkeys(("description", "dc_description", "media_description"), s_description),
        **dict.fromkeys(("body", "xhtml_body", "content_encoded", "fullitem"), s_content),
        **dict.fromkeys(PUBLISHED, push_only("published", 1)),
        **dict.fromkeys(UPDATED, push_only("updated", 1)),
        **dict.fromkeys(("name", "itunes_name"), push_only("name", 0)),
        **dict.fromkeys(("email", "itunes_email"), push_only("email", 0)),
        **dict.fromkeys(("url", "homepage", "uri"), push_only("href", 1)),
        **dict.fromkeys(("webmaster", "dc_publisher"), push_only("publisher", 1)),
    }
    END: ClassVar[dict[str, Callable[[_Walker, str], None]]] = {
        "item": e_item, "entry": e_item, "link": pop_only("link"), "guid": e_id, "id": e_id,
        "channel": e_feed, "feed": e_feed, "image": e_image, "textinput": e_textinput,
        "source": e_source, "contributor": e_contributor, "dc_contributor": e_contributor,
        **dict.fromkeys(TITLES, e_title), **dict.fromkeys(AUTHORS, e_author),
        **dict.fromkeys((*DESCRIPTIONS, "summary", "itunes_summary"), e_summary),
        **dict.fromkeys(CONTENTS, lambda self, name: self.end_content()),
        **dict.fromkeys(PUBLISHED, e_published), **dict.fromkeys(UPDATED, e_updated),
        **dict.fromkeys(("name", "itunes_name"), e_name),
        **dict.fromkeys(("email", "itunes_email"), e_email),
        **dict.fromkeys(("url", "homepage", "uri"), e_url),
        **dict.fromkeys(("webmaster", "dc_publisher", "itunes_owner"), e_publisher),
    }

    def pop(self, element: str) -> str | None:
        """feedparser's pop(): join the element's text, fix it up and store it."""
        if not self.stack or self.stack[-1][0] != element:
            return None
        element, expecting_text, pieces = self.stack.pop()
        if element not in READ:
            return None  # nothing Curator reads depends on it; skip feedparser's fix-ups
        if self.version == "atom10" and self.contentparams.get("type") == "application/xhtml+xml":
            pieces = strip_wrapping_div(pieces)
        output = "".join(pieces).strip()
        if not expecting_text:
            return output
        if self.contentparams.get("base64"):
            with contextlib.suppress(binascii.Error, binascii.Incomplete, UnicodeDecodeError):
                output = base64.decodebytes(output.encode("utf8")).decode("utf8")
        if element in CAN_BE_RELATIVE and output and (element != "id" or self.guidislink):
            output = self.resolve(output)
        # RSS says nothing about markup in titles and such; feedparser guesses.
        if (not self.version.startswith("atom") and self.contentparams.get("type") == "text/plain"
                and looks_like_html(output)):
            self.contentparams["type"] = "text/html"
        self.contentparams.pop("base64", None)
        output = fix_text(output)
        if element in ("category", "tags", "itunes_keywords"):
            return output
        if element == "title" and -1 < self.title_depth <= self.depth:
            return output
        if self.inentry and not self.insource:
            self.store_in_entry(element, output)
        elif self.infeed or self.insource:
            context = self.context()
            element = "subtitle" if element == "description" else element
            context[element] = output
            if element == "link":
                context["link"] = unescape_query(output)
            elif self.incontent:
                context[f"{element}_detail"] = dict(self.contentparams)
        return output

    def store_in_entry(self, element: str, output: str) -> None:
        entry = self.entries[-1]
        if element == "content":
            entry.setdefault("content", []).append({**self.contentparams, "value": output})
        elif element == "link":
            if not self.inimage:
                entry["link"] = unescape_query(output.replace("&amp;", "&"))
        else:
            element = "summary" if element == "description" else element
            depths = self.depth_map.setdefault(len(self.entries), {})
            old = depths.get(element)
            if old is None or self.depth <= old:
                depths[element] = self.depth
                entry[element] = output
            if self.incontent:
                entry[f"{element}_detail"] = dict(self.contentparams)


def strip_wrapping_div(pieces: list[str]) -> list[str]:
    """Atom 1.0 XHTML content without its <div> wrapper, as feedparser's pop() does it."""
    while len(pieces) > 1 and not pieces[-1].strip():
        del pieces[-1]
    while len(pieces) > 1 and not pieces[0].strip():
        del pieces[0]
    if pieces and (pieces[0] == "<div>" or pieces[0].startswith("<div ")) and pieces[-1] == "</div>":
        depth = 0
        for piece in pieces[:-1]:
            if piece.startswith("</"):
                depth -= 1
                if depth == 0:
                    return pieces
            elif piece.startswith("<") and not piece.endswith("/>"):
                depth += 1
        return pieces[1:-1]
    return pieces


def unescape_query(link: str) -> str:
    """'?a=1&b;=2' back to '?a=1&b=2': feedparser's repair of links read as entity references."""
    return _LINK_ENTITY.sub(r"&\g<1>", link) if "&" in link else link


def fix_text(text: str) -> str:
    """feedparser's last touches: UTF-8 read as Latin-1 repaired, C1 controls as cp1252."""
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    # translate() with a dict is slow on long text, and C1 controls are rare.
    return text.translate(_cp1252) if _C1.search(text) else text


def split_author(author: str) -> tuple[str, str | None]:
    """'jo@example.com (Jo)' -> ('Jo', 'jo@example.com'), as feedparser splits it."""
    match = EMAIL.search(author)
    if not match:
        return author, None
    email = match.group(0)
    name = author.replace(email, "").replace("()", "").replace("<>", "")
    name = name.replace("&lt;&gt;", "").strip()
    if name and name[0] == "(":
        name = name[1:]
    if name and name[-1] == ")":
        name = name[:-1]
    return name.strip(), email
