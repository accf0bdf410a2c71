"""feedparser's names for the elements and namespaces that the fast path reads, and what each means."""

from __future__ import annotations

import re

from feedparser.mixin import _FeedParserMixin

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

