"""The walker: feedparser's element stack and bookkeeping replayed over lxml's events.

Elements are dispatched to the handler table in handlers.py; what is left here is what every
element shares: names and namespaces, the stack (push, pop), text, xml:base and where a value
is stored.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from typing import Any, cast
from xml.sax.saxutils import escape

from feedparser.urls import _urljoin, make_safe_absolute_uri
from lxml import etree

from curator.ingest.fastxml.handlers import ElementHandlers
from curator.ingest.fastxml.tables import (
    CAN_BE_RELATIVE,
    CONTENT_LIKE,
    END_HANDLERS,
    NAMESPACES,
    PLAIN,
    READ,
    USERLAND,
    XHTML,
    XLINK,
    Unsupported,
    looks_like_html,
)
from curator.ingest.fastxml.text import fix_text, strip_wrapping_div, unescape_query


class Walker(ElementHandlers):
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

    # -- dispatch to the handler table (handlers.py)

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

