"""Text fix-ups feedparser applies to what it pops: wrapping divs, query strings, C1 characters, authors."""

from __future__ import annotations

import contextlib

from feedparser.html import _cp1252

from curator.ingest.fastxml.tables import _C1, _LINK_ENTITY, EMAIL


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
