"""A web page's title and description, for a link an editor adds by hand."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from lxml import html as lxml_html

MAX_BYTES = 1_000_000  # a page's head is near its start; this is plenty


@dataclass(frozen=True)
class PageMeta:
    title: str = ""
    description: str = ""
    error: str = ""  # why nothing could be read, for the editor


def fetch_page_meta(url: str, timeout: float) -> PageMeta:
    """og:title or <title>, og:description or meta description; an error message when unreachable."""
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=5,
                          headers={"User-Agent": "Curator/0.1 (+link preview)"}) as client, \
                client.stream("GET", url) as response:
            if response.status_code >= 400:
                return PageMeta(error=f"the page answered HTTP {response.status_code}")
            kind = response.headers.get("content-type", "")
            if "html" not in kind:
                return PageMeta(error=f"the address is not a web page ({kind or 'no content type'})")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= MAX_BYTES:
                    break
            encoding = response.encoding or "utf-8"
    except httpx.HTTPError as exc:
        return PageMeta(error=f"could not reach it ({type(exc).__name__}: {exc or 'no detail'})")
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
