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

from typing import Any

from lxml import etree

from curator.ingest.fastxml.tables import FEED_ROOTS, Unsupported
from curator.ingest.fastxml.text import split_author
from curator.ingest.fastxml.walker import Walker

__all__ = ["Unsupported", "parse", "split_author"]


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
    return Walker(base).run(root)


def _has_entity_references(root: etree._Element) -> bool:
    """Unexpanded entities (resolve_entities=False) that feedparser would read differently."""
    return any(True for _ in root.iter(etree.Entity))

