"""The table of element handlers: feedparser's _start_* and _end_* for the elements Curator reads.

Each handler is a method of `ElementHandlers`, which the walker (walker.py) extends with the
stack, the namespaces and pop(); START and END map an element's feedparser name to its handler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from feedparser.datetimes import _parse_date

from curator.ingest.fastxml.tables import (
    AUTHORS,
    CONTENTS,
    DESCRIPTIONS,
    HTML_TYPES,
    PUBLISHED,
    TITLES,
    UPDATED,
    map_content_type,
)
from curator.ingest.fastxml.text import split_author


def push_only(pushed: str, expecting: int) -> Callable[[ElementHandlers, dict[str, str]], None]:
    """A start handler that only pushes, as most of feedparser's do."""
    def start(self: ElementHandlers, attrs: dict[str, str]) -> None:
        self.push(pushed, expecting)
    return start


def pop_only(popped: str) -> Callable[[ElementHandlers, str], None]:
    """An end handler that only pops."""
    def end(self: ElementHandlers, name: str) -> None:
        self.pop(popped)
    return end



class ElementHandlers:
    """feedparser's handlers, one method each, working on the walker's state (see walker.py)."""

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

    START: ClassVar[dict[str, Callable[[ElementHandlers, dict[str, str]], None]]] = {
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
    END: ClassVar[dict[str, Callable[[ElementHandlers, str], None]]] = {
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
