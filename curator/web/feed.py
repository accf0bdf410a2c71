"""The archive's Atom feed (RFC 4287): one entry per sent issue, newest first, linking to its archive page."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from curator.config import Settings
from curator.store.schema import issues

router = APIRouter()
ATOM = "http://www.w3.org/2005/Atom"
ENTRIES = 50


@router.get("/archive.atom")
def archive_feed(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    with request.app.state.engine.connect() as conn:
        rows = conn.execute(
            select(issues.c.period, issues.c.subject, issues.c.preheader, issues.c.intro, issues.c.sent_at,
                   issues.c.updated_at)
            .where(issues.c.status == "sent").order_by(issues.c.period.desc()).limit(ENTRIES)
        ).mappings().all()
    body = atom_feed(settings, [dict(r) for r in rows])
    return Response(body, media_type="application/atom+xml", headers={"Cache-Control": "public, max-age=600"})


def atom_feed(settings: Settings, rows: list[dict]) -> bytes:
    """The feed document for `rows` (sent issues, newest first)."""
    base = settings.base_url.rstrip("/")
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "title", f"{settings.from_name}: past issues")
    _text(feed, "subtitle", "A monthly newsletter of growth resources, picked by editors.")
    _text(feed, "id", f"{base}/archive")
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", type="application/atom+xml", href=f"{base}/archive.atom")
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=f"{base}/archive")
    newest = max((_when(r) for r in rows), default=datetime(2000, 1, 1, tzinfo=UTC))
    _text(feed, "updated", newest.isoformat())
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", settings.from_name)
    if settings.brand_logo_url:
        _text(feed, "logo", settings.brand_logo_url)
    for row in rows:
        url = f"{base}/archive/{row['period']}"
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "title", row["subject"] or row["period"])
        _text(entry, "id", url)
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=url)
        _text(entry, "updated", _when(row).isoformat())
        _text(entry, "published", _when(row).isoformat())
        _text(entry, "summary", row["preheader"] or " ".join((row["intro"] or "").split())[:300] or row["subject"])
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _when(row: dict) -> datetime:
    return (row.get("sent_at") or row["updated_at"]).astimezone(UTC)


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}")
    element.text = value
    return element
