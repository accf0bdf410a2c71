"""Emails from an issue: one body per topic variant, per-recipient values as substitution tags.

`render_variant` writes the HTML and plain-text parts once per topic set; what differs
per recipient appears as the tags in SUBSTITUTION_KEYS (and READER_TAG, the signed token of
their pick links, /r/TOKEN/PICK and /f/TOKEN/PICK), which SendGrid (or `personalize`, for the
outbox and previews) replaces with `recipient_values`.

SendGrid substitutes the same value in both parts, literally. So the values are made safe
for both: URLs are URL-safe by construction (itsdangerous tokens), and the name is
HTML-escaped with quote=False (templates place it in element text only, never in an
attribute), so "O'Brien" reads right everywhere and only &, < and > show as entities
in the plain-text part. Feed and editor text that happens to contain a tag is
neutralized before the provider sees it, so it cannot be replaced.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from curator import richtext, tokens
from curator.config import Settings, resource_path
from curator.content import ONLY_PREFIX, IssueContent

SUBSTITUTION_KEYS = ("-name-", "-unsubscribe_url-", "-preferences_url-")  # SendGrid substitution tags
# The token of the recipient's pick links (/r/TOKEN/PICK, /f/TOKEN/PICK): one per recipient, not per pick.
READER_TAG = "-reader-"
NAME_FALLBACK = "there"  # "Hi there," when we do not know the name
TEXT_WIDTH = 72
SUMMARY_CHARS = 320
_TAG_RE = re.compile("|".join(re.escape(key) for key in (*SUBSTITUTION_KEYS, READER_TAG)))


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


class _Literal(str):
    """Text the templates emit as it is: our own tags and already-neutralized links."""


def _neutralize_text(text: str) -> str:
    # A word joiner after the first hyphen: invisible, and no longer a tag the provider replaces.
    return _TAG_RE.sub(lambda m: m.group(0)[0] + "\u2060" + m.group(0)[1:], text)


def _finalize(value: object) -> object:
    if isinstance(value, (_Literal, Markup)) or not isinstance(value, str):
        return value
    return _neutralize_text(value)


def _link(url: str) -> str:
    """An http(s) URL fit for href and for the text part; "" for anything else (javascript:, data:)."""
    url = (url or "").strip()
    if not url.lower().startswith(("http://", "https://")):
        return _Literal("")
    # %2D is the same character to the server, and not a tag to the provider.
    return _Literal(_TAG_RE.sub(lambda m: "%2D" + m.group(0)[1:], url))


def _wrap(text: str, indent: str = "", width: int = TEXT_WIDTH) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    return "\n\n".join(
        textwrap.fill(
            " ".join(p.split()), width=width, initial_indent=indent, subsequent_indent=indent,
            break_long_words=False, break_on_hyphens=False,
        )
        for p in paragraphs
    )


def _markdown(text: str) -> Markup:
    """Editors' Markdown as sanitized HTML; Markup skips `_finalize`, so tags are neutralized here."""
    return Markup(_neutralize_text(str(richtext.to_html(text))))


def _markdown_text(text: str, indent: str = "") -> str:
    return richtext.to_text(text, width=TEXT_WIDTH, indent=indent)


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text or "") if p.strip()]


def _shorten(text: str, limit: int = SUMMARY_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


@lru_cache(maxsize=4)
def environment(folder: Path | None = None) -> Environment:
    """The email templates' Jinja2 environment: autoescaped HTML, StrictUndefined, tags protected."""
    env = Environment(
        loader=FileSystemLoader(str(folder or resource_path("templates") / "email")),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        link=_link, wrap=_wrap, paragraphs=_paragraphs, shorten=_shorten, markdown=_markdown,
        markdown_text=_markdown_text, pick_meta=pick_meta,
    )
    env.globals["sender_line"] = sender_line
    return env


def pick_meta(pick) -> str:
    """A pick's source, date and reading time: `Careers Weekly · 3 Dec 2026 · 6 min read`."""
    parts = [pick.source] if pick.source else []
    if pick.published:
        parts.append(f"{pick.published.day} {pick.published:%b %Y}")
    if pick.reading_minutes:
        parts.append(f"{max(1, round(pick.reading_minutes))} min read")
    return " · ".join(parts)


def sender_line(settings: Settings) -> str:
    """The footer's sender: the name once, then the postal address (which often starts with the name)."""
    name, address = settings.from_name.strip(), settings.postal_address.strip()
    if not name or re.match(re.escape(name) + r"(?!\w)", address, re.IGNORECASE):
        return address
    return f"{name} · {address}"


def _inline(document: str) -> str:
    # At-rules (dark mode, small screens) stay in <style>; everything else moves into style="".
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False).inline(document)


def _base_url(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


def _subscriber_id(subscriber: Mapping) -> int:
    # A ledger row has its own "id": the subscriber's is "subscriber_id" there.
    return int(subscriber["subscriber_id"] if "subscriber_id" in subscriber else subscriber["id"])


def confirm_url(settings: Settings, subscriber: Mapping) -> str:
    token = tokens.make_token(
        settings, "confirm", _subscriber_id(subscriber), subscriber["email"], subscriber.get("confirm_nonce")
    )
    return f"{_base_url(settings)}/confirm/{token}"


def unsubscribe_url(settings: Settings, subscriber: Mapping) -> str:
    """The signed one-click unsubscribe URL (also the List-Unsubscribe header's)."""
    token = tokens.make_token(settings, "unsubscribe", _subscriber_id(subscriber), subscriber["email"])
    return f"{_base_url(settings)}/unsubscribe/{token}"


def preferences_url(settings: Settings, subscriber: Mapping) -> str:
    token = tokens.make_token(settings, "preferences", _subscriber_id(subscriber), subscriber["email"])
    return f"{_base_url(settings)}/preferences/{token}"


def archive_url(settings: Settings, period: str | None = None) -> str:
    return f"{_base_url(settings)}/archive" + (f"/{period}" if period else "")


def subscribe_url(settings: Settings) -> str:
    return f"{_base_url(settings)}/subscribe"


def list_unsubscribe_headers(settings: Settings, subscriber: Mapping) -> dict[str, str]:
    """RFC 8058 headers for one recipient; literal, since providers never substitute headers."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(settings, subscriber)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _pick_links(settings: Settings, personal: bool):
    """The template's pick_href(pick) and feedback_url(pick): through the recipient's links, or plain."""
    base = _base_url(settings)

    def pick_href(pick) -> str:
        if personal and pick.pick_id and settings.click_tracking and _link(pick.url):
            return _Literal(f"{base}/r/{READER_TAG}/{int(pick.pick_id)}")
        return _link(pick.url)

    def feedback_url(pick, vote: str = "") -> str:
        if not (personal and pick.pick_id):
            return _Literal("")
        query = f"?vote={vote}" if vote in ("more", "less") else ""
        return _Literal(f"{base}/f/{READER_TAG}/{int(pick.pick_id)}{query}")

    return pick_href, feedback_url


def variant_topics(variant: str) -> list[str]:
    """The topic list a variant key stands for ("" is: no preference, feeds.yaml order)."""
    return [t for t in variant.removeprefix(ONLY_PREFIX).split(",") if t]


def variant_only(variant: str) -> bool:
    """Whether a variant key is for "only my topics" (see subscribers.audience_select)."""
    return variant.startswith(ONLY_PREFIX)


def variant_key(topics: Sequence[str], only: bool = False) -> str:
    joined = ",".join(topics)
    return ONLY_PREFIX + joined if only and joined else joined


def _context(
    content: IssueContent, topics: Sequence[str], settings: Settings, personal: bool, only: bool = False
) -> dict:
    sections = content.ordered_for(list(topics), only=only and personal)
    # Where the subscriber's own topics end, when others follow them.
    mine = sum(1 for s in sections if s.topic in topics) if personal else 0
    pick_href, feedback_url = _pick_links(settings, personal)
    return {
        "pick_href": pick_href,
        "feedback_url": feedback_url,
        "content": content,
        "sections": sections,
        "mine": mine if 0 < mine < len(sections) else 0,
        "only": only and personal and bool(topics),
        "preheader": content.preheader or _shorten(" · ".join(s.title for s in sections), 140),
        "name": _Literal("-name-") if personal else NAME_FALLBACK,
        "unsubscribe_url": _Literal("-unsubscribe_url-"),
        "preferences_url": _Literal("-preferences_url-"),
        "archive_url": _Literal(archive_url(settings, content.period)),
        "archive_index_url": _Literal(archive_url(settings)),
        "subscribe_url": _Literal(subscribe_url(settings)),
        "home_url": _Literal(_base_url(settings) + "/"),
        "feed_url": _Literal(_base_url(settings) + "/archive.atom"),
        "personal": personal,
        "settings": settings,
        "notice": "",
    }


def render_variant(
    content: IssueContent, topics: Sequence[str] | str, settings: Settings, only: bool = False
) -> Rendered:
    """The issue for one topic set (a list, or a variant key); per-recipient values are left as tags."""
    if isinstance(topics, str):
        topics, only = variant_topics(topics), variant_only(topics)
    env = environment()
    context = _context(content, topics, settings, personal=True, only=only)
    return Rendered(
        subject=_neutralize_text(content.subject),
        html=_inline(env.get_template("issue.html").render(context)),
        text=env.get_template("issue.txt").render(context),
    )


def render_archive_page(content: IssueContent, settings: Settings, notice: str = "") -> str:
    """The issue as a web page: every topic in feeds.yaml order, no personal values or tags."""
    context = _context(content, (), settings, personal=False) | {"notice": notice}
    return _inline(environment().get_template("issue.html").render(context))


def recipient_values(
    settings: Settings, subscriber: Mapping, *, delivery_id: int = 0, pick_links: bool = False
) -> dict[str, str]:
    """Tag -> value for one recipient, safe in both parts (see the module docstring).

    `pick_links`: the issue has picks with links to sign (IssueContent.pick_ids()); their token
    names `delivery_id`, the recipient's ledger row (0: a copy off the ledger, which counts nothing).
    """
    make = values_maker(settings, pick_links=pick_links)
    return make(_subscriber_id(subscriber), subscriber["email"], subscriber.get("name"), delivery_id)


def values_maker(
    settings: Settings, *, pick_links: bool = False
) -> Callable[[int, str, str | None, int], dict[str, str]]:
    """recipient_values for many recipients, as make(subscriber_id, email, name, delivery_id).

    A send calls it for every recipient: the keys and the base URL are looked up once, and a
    recipient's two links (unsubscribe, preferences) share one token payload (see tokens).
    """
    sign = tokens.subscriber_signer(settings, ("unsubscribe", "preferences"))
    sign_links = tokens.link_signer(settings) if pick_links else None
    base = _base_url(settings)
    escape = html.escape

    def make(subscriber_id: int, email: str, name: str | None, delivery_id: int = 0) -> dict[str, str]:
        name = " ".join(str(name or "").split())
        unsubscribe, preferences = sign(subscriber_id, email)
        values = {
            "-name-": escape(name, quote=False) if name else NAME_FALLBACK,
            "-unsubscribe_url-": f"{base}/unsubscribe/{unsubscribe}",
            "-preferences_url-": f"{base}/preferences/{preferences}",
        }
        if sign_links is not None:
            values[READER_TAG] = sign_links(delivery_id)
        return values

    return make


def personalize(rendered: Rendered, values: Mapping[str, str]) -> Rendered:
    """Replace the tags as the provider would: literally, in one pass, in subject and both parts."""

    def expand(text: str) -> str:
        return _TAG_RE.sub(lambda m: values[m.group(0)], text)

    return replace(rendered, subject=expand(rendered.subject), html=expand(rendered.html), text=expand(rendered.text))


def render_for(content: IssueContent, subscriber: Mapping, settings: Settings) -> Rendered:
    """The issue exactly as one subscriber receives it (previews, the outbox, tests)."""
    topics = subscriber.get("topics")
    # A ledger row's own "id" is its delivery id.
    delivery_id = int(subscriber["id"]) if "subscriber_id" in subscriber and "id" in subscriber else 0
    values = recipient_values(settings, subscriber, delivery_id=delivery_id, pick_links=bool(content.pick_ids()))
    if topics is None:  # a ledger row: its variant key says the topics and whether only those
        return personalize(render_variant(content, subscriber.get("variant") or "", settings), values)
    body = render_variant(content, topics, settings, only=bool(subscriber.get("only_my_topics")))
    return personalize(body, values)


def render_confirmation(settings: Settings, subscriber: Mapping) -> Rendered:
    """The double opt-in email: one signed link that expires."""
    env = environment()
    context = {
        "confirm_url": _Literal(confirm_url(settings, subscriber)),
        "name": " ".join(str(subscriber.get("name") or "").split()),
        "days": settings.confirm_max_age_days,
        "subscribe_url": _Literal(subscribe_url(settings)),
        "settings": settings,
    }
    return Rendered(
        subject=f"Confirm your subscription to {settings.from_name}",
        html=_inline(env.get_template("confirm.html").render(context)),
        text=env.get_template("confirm.txt").render(context),
    )


def render_unsubscribe_link(settings: Settings, subscriber: Mapping) -> Rendered:
    """A fresh unsubscribe link, for someone whose link broke; it opens the page with the button."""
    env = environment()
    context = {
        "unsubscribe_url": _Literal(unsubscribe_url(settings, subscriber)),
        "name": " ".join(str(subscriber.get("name") or "").split()),
        "settings": settings,
    }
    return Rendered(
        subject=f"Your link to unsubscribe from {settings.from_name}",
        html=_inline(env.get_template("unsubscribe_link.html").render(context)),
        text=env.get_template("unsubscribe_link.txt").render(context),
    )


def address_url(settings: Settings, subscriber: Mapping) -> str:
    """The link that confirms a subscriber's waiting new address (bound to that address)."""
    token = tokens.make_token(settings, "address", _subscriber_id(subscriber), subscriber["new_email"])
    return f"{_base_url(settings)}/address/{token}"


def render_welcome(settings: Settings, subscriber: Mapping, latest: str | None) -> Rendered:
    """After confirming: what to expect, the latest issue's link, and their own links."""
    context = {
        "name": " ".join(str(subscriber.get("name") or "").split()),
        "latest_url": _Literal(archive_url(settings, latest)) if latest else "",
        "archive_index_url": _Literal(archive_url(settings)),
        "preferences_url": _Literal(preferences_url(settings, subscriber)),
        "unsubscribe_url": _Literal(unsubscribe_url(settings, subscriber)),
        "topics": list(subscriber.get("topics") or []),
        "only": bool(subscriber.get("only_my_topics")),
        "settings": settings,
    }
    return _transactional("welcome", f"Welcome to {settings.from_name}", context)


def render_address_change(settings: Settings, subscriber: Mapping) -> Rendered:
    """To the new address: one signed link that moves the subscription there."""
    context = {
        "address_url": _Literal(address_url(settings, subscriber)),
        "old": subscriber["email"], "new": subscriber["new_email"],
        "days": settings.confirm_max_age_days, "settings": settings,
    }
    return _transactional("address", f"Confirm your new address for {settings.from_name}", context)


def _transactional(name: str, subject: str, context: dict) -> Rendered:
    env = environment()
    return Rendered(
        subject=subject,
        html=_inline(env.get_template(f"{name}.html").render(context)),
        text=env.get_template(f"{name}.txt").render(context),
    )
