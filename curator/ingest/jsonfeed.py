"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org), read into feedparser's shape; feedparser has none."""

from __future__ import annotations

import json
from typing import Any

from curator.ingest.normalize import to_utc

PLAIN = {"type": "text/plain"}
HTML = {"type": "text/html"}


def parse(content: bytes) -> tuple[dict[str, Any], str | None]:
    """({'feed', 'entries', 'version'}, problem or None) from the bytes of a JSON Feed."""
    empty: dict[str, Any] = {"feed": {}, "entries": [], "version": ""}
    problems: list[str] = []
    try:
        doc = json.loads(_text(content, problems))
    except json.JSONDecodeError as exc:
        return empty, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
    except (UnicodeDecodeError, RecursionError) as exc:
        return empty, f"invalid JSON: {exc}"
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        return empty, "not a JSON Feed: no top-level object with an \"items\" array"
    version = doc.get("version")
    if not isinstance(version, str) or not version:
        problems.append("not a JSON Feed: \"version\" is missing")
    feed_author = _authors(doc)
    entries = []
    for number, item in enumerate(doc["items"], 1):
        if not isinstance(item, dict):
            problems.append(f"item {number} is not an object")
            continue
        entry, problem = _entry(item, feed_author)
        entries.append(entry)
        if problem:
            problems.append(f"item {number}: {problem}")
    feed = {"title": _string(doc.get("title")), "title_detail": PLAIN,
            "link": _string(doc.get("home_page_url"))}
    raw = {"feed": feed, "entries": entries, "version": f"json:{version}"}
    return raw, "; ".join(problems[:5]) or None


def _text(content: bytes, problems: list[str]) -> str:
    """JSON is UTF-8 (RFC 8259); a BOM or UTF-16/32 is tolerated, anything else read as cp1252."""
    encoding = json.detect_encoding(content)
    try:
        return content.decode(encoding)
    except UnicodeDecodeError:
        problems.append(f"not valid {encoding}; read as cp1252")
        return content.decode("cp1252", errors="replace")


def _entry(item: dict[str, Any], feed_author: str | None) -> tuple[dict[str, Any], str | None]:
    problems = []
    identifier = item.get("id")
    if identifier is None or identifier == "":
        problems.append("no id")
    entry: dict[str, Any] = {
        "id": str(identifier) if isinstance(identifier, str | int | float) else None,
        "link": _string(item.get("url")) or _string(item.get("external_url")),
        "title": _string(item.get("title")),
        "title_detail": PLAIN,
        "summary": _string(item.get("summary")),
        "summary_detail": PLAIN,
        "author": _authors(item) or feed_author,
    }
    if _string(item.get("content_html")):
        entry["content"] = [{**HTML, "value": item["content_html"]}]
    elif _string(item.get("content_text")):
        entry["content"] = [{**PLAIN, "value": item["content_text"]}]
    for key, field in (("published_parsed", "date_published"), ("updated_parsed", "date_modified")):
        value = item.get(field)
        entry[key] = to_utc(value) if isinstance(value, str) else None
        if value is not None and entry[key] is None:
            problems.append(f"unreadable {field} {value!r}")
    return entry, ", ".join(problems) or None


def _authors(node: dict[str, Any]) -> str | None:
    """Names from 1.1 "authors", else 1.0 "author", joined with commas."""
    people = node.get("authors")
    if not isinstance(people, list) or not people:
        people = [node.get("author")]
    names = [p["name"].strip() for p in people
             if isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"].strip()]
    return ", ".join(names) or None


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""
