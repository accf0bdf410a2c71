"""A web page's title and description, for a link an editor adds by hand."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from lxml import html as lxml_html

from curator import netguard

MAX_BYTES = 1_000_000  # a page's head is near its start; this is plenty


FETCH_FAILED = "could not fetch that page"  # one text for every refusal and failure: no probing of ports


@dataclass(frozen=True)
class PageMeta:
    title: str = ""
    description: str = ""
    error: str = ""  # FETCH_FAILED, or why the page could not be read


def fetch_page_meta(
    url: str, timeout: float, *, allow_private: bool = False, guard: netguard.Guard | None = None
) -> PageMeta:
    """og:title or <title>, og:description or meta description; FETCH_FAILED when it cannot be fetched.

    The address must be public (curator.netguard) at every redirect hop, unless `allow_private`.
    Whatever went wrong (refused, unreachable, an HTTP error, not HTML), the editor reads the
    same words, so the desk cannot be used to tell open ports from closed ones.
    """
    transport = None if allow_private else netguard.GuardedTransport(guard or netguard.Guard())
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=5, transport=transport,
                          trust_env=False, headers={"User-Agent": "Curator/0.1 (+link preview)"}) as client, \
                client.stream("GET", url) as response:
            if response.status_code >= 400 or "html" not in response.headers.get("content-type", ""):
                return PageMeta(error=FETCH_FAILED)
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= MAX_BYTES:
                    break
            encoding = response.encoding or "utf-8"
    except (httpx.HTTPError, httpx.InvalidURL, netguard.BlockedAddress, ValueError, LookupError, UnicodeError):
        return PageMeta(error=FETCH_FAILED)
    return parse_page_meta(body.decode(encoding, errors="replace"))


def parse_page_meta(text: str) -> PageMeta:
    if not text.strip():
        return PageMeta(error="the page is empty")
    try:
        doc = lxml_html.document_fromstring(text)
    except (ValueError, lxml_html.etree.ParserError):
        return PageMeta(error="the page could not be read as HTML")

    def meta(*names: str) -> str:
        for name in names:
            for attr in ("property", "name"):
                found = doc.xpath(f'//meta[@{attr}="{name}"]/@content')
                if found and found[0].strip():
                    return " ".join(found[0].split())
        return ""

    titles = doc.xpath("//title/text()")
    title = meta("og:title", "twitter:title") or (" ".join(titles[0].split()) if titles else "")
    description = meta("og:description", "description", "twitter:description")
    return PageMeta(title=title[:1000], description=description[:2000])
