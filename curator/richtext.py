"""Editors' Markdown (the introduction, blurbs): safe HTML for the email and pages, readable plain text.

One parser for both parts: markdown-it-py in CommonMark mode with raw HTML off and single line
breaks kept (editors type a line break and mean it). The HTML then goes through the same nh3
allow-list as feed summaries, narrowed to what Markdown makes, so a `javascript:` link or a
`<script>` typed into a blurb ends up as inert text. Images are not allowed in editors' text
(an email full of remote images is a tracking and layout hazard): `![alt](url)` becomes a link.
"""

from __future__ import annotations

import textwrap
from functools import cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml as escape_html
from markdown_it.token import Token
from markupsafe import Markup

from curator.safehtml import ALLOWED_ATTRIBUTES, LINK_REL, URL_SCHEMES

# What Markdown produces, minus images; every one is also in the feed sanitizer's allow-list.
TAGS = frozenset({
    "a", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "ol", "p",
    "pre", "strong", "ul",
})
ATTRIBUTES = {tag: set(ALLOWED_ATTRIBUTES[tag]) for tag in ("a", "ol")}


@cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False, "typographer": False})
    md.add_render_rule("image", _image_as_link)
    return md


def _image_as_link(self, tokens: list[Token], idx: int, options, env) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    href = escape_html(str(token.attrGet("src") or ""))
    return f'<a href="{href}">{escape_html(alt)}</a>'


@cache
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
        url_relative="deny",  # an email has no base address: a relative link leads nowhere
    )


def to_html(text: str) -> Markup:
    """Editors' Markdown as sanitized HTML (block elements: paragraphs, lists, quotes)."""
    if not (text or "").strip():
        return Markup("")
    return Markup(_cleaner().clean(_parser().render(text)).strip())


def to_text(text: str, width: int = 72, indent: str = "") -> str:
    """Editors' Markdown as plain text: paragraphs wrapped, links as "text (url)", lists as "- item"."""
    if not (text or "").strip():
        return ""
    out: list[str] = []
    previous = ""
    for prefix, body, kind in _Plain(_parser().parse(text)).blocks():
        if kind == "code":
            block = "\n".join(indent + prefix + line for line in body.split("\n"))
        else:
            block = "\n".join(_fill(line, width, indent + prefix, indent + _hang(prefix)) if line.strip() else ""
                              for line, prefix in _prefixes(body.split("\n"), prefix))
        # List items follow each other line by line; everything else is a paragraph of its own.
        out.append(("\n" if kind == previous and kind.startswith("item") else "\n\n") + block)
        previous = kind
    return "".join(out).lstrip("\n")


def _prefixes(lines: list[str], prefix: str):
    """The first line gets the bullet; the next ones hang under it (a quote's "> " repeats)."""
    for i, line in enumerate(lines):
        yield line, prefix if i == 0 else _hang(prefix)


def _hang(prefix: str) -> str:
    quote = prefix[: len(prefix) - len(prefix.lstrip("> "))] if prefix.startswith(">") else ""
    return quote + " " * (len(prefix) - len(quote))


def _fill(line: str, width: int, first: str, rest: str) -> str:
    return textwrap.fill(
        " ".join(line.split()), width=width, initial_indent=first, subsequent_indent=rest,
        break_long_words=False, break_on_hyphens=False,
    )


def _safe_url(url: str) -> str:
    """The URL if a reader may follow it (the same schemes the HTML keeps), else ""."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    return url if scheme in URL_SCHEMES else ""


class _Plain:
    """markdown-it's token stream as (prefix, text) blocks: one per paragraph, list item or heading."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.lists: list[list[int | None]] = []  # per open list: [next number] (None for bullets)
        self.quote = 0
        self.opened = 0  # lists opened so far: items of one list share a kind, and sit line by line

    def blocks(self) -> list[tuple[str, str, str]]:
        """(prefix, text, kind) with kind "itemN" (an item of the Nth list), "code" (kept as is) or "para"."""
        out: list[tuple[str, str, str]] = []
        pending_prefix = ""
        for token in self.tokens:
            kind = token.type
            if kind in ("bullet_list_open", "ordered_list_open"):
                self.opened += 1
                self.lists.append([int(token.attrGet("start") or 1) if kind == "ordered_list_open" else None])
            elif kind in ("bullet_list_close", "ordered_list_close"):
                self.lists.pop()
            elif kind == "blockquote_open":
                self.quote += 1
            elif kind == "blockquote_close":
                self.quote -= 1
            elif kind == "list_item_open":
                pending_prefix = self._bullet()
            elif kind == "inline":
                kind = f"item{self.opened}" if pending_prefix else "para"
                out.append((self._prefix(pending_prefix), _inline_text(token.children or []), kind))
                pending_prefix = ""
            elif kind in ("fence", "code_block"):
                code = "\n".join("    " + line for line in token.content.rstrip("\n").split("\n"))
                out.append((self._prefix(""), code, "code"))
            elif kind == "hr":
                out.append((self._prefix(""), "* * *", "para"))
        return out

    def _bullet(self) -> str:
        depth = "  " * (len(self.lists) - 1)
        counter = self.lists[-1]
        if counter[0] is None:
            return depth + "- "
        number = counter[0]
        counter[0] = number + 1
        return depth + f"{number}. "

    def _prefix(self, item: str) -> str:
        return "> " * self.quote + item


def _inline_text(children: list[Token]) -> str:
    """Inline tokens as text; a link becomes "text (url)", or just the url when they are the same."""
    parts: list[str] = []
    links: list[tuple[str, int]] = []  # (href, where its text starts in parts)
    for token in children:
        kind = token.type
        if kind in ("text", "code_inline"):
            parts.append(token.content)
        elif kind == "softbreak" or kind == "hardbreak":
            parts.append("\n")
        elif kind == "link_open":
            links.append((_safe_url(str(token.attrGet("href") or "")), len(parts)))
        elif kind == "link_close" and links:
            href, start = links.pop()
            label = "".join(parts[start:])
            if href and label.strip() != href:
                parts.append(f" ({href})")
        elif kind == "image":
            alt = "".join(child.content for child in token.children or []) or "image"
            src = _safe_url(str(token.attrGet("src") or ""))
            parts.append(f"{alt} ({src})" if src else alt)
    return "".join(parts)
