"""The desk's source health page (/desk/sources): which sources pay off with editors and with readers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from curator.curate.readers import ReaderCounts, interest_by
from curator.engagement.sources import source_health
from curator.web.auth import EDITOR, csrf_protect
from curator.web.desk import _page

# Registered before the desk's own router: its /desk/{period} would take "sources" for a month.
router = APIRouter(prefix="/desk", dependencies=[Depends(EDITOR), Depends(csrf_protect)])


@router.get("/sources")
def sources(request: Request) -> Response:
    with request.app.state.engine.connect() as conn:
        rows = source_health(conn)
    interest = interest_by(
        {s.feed_id: ReaderCounts(delivered=s.delivered, clicks=s.clicks, more=s.more, less=s.less) for s in rows}
    )
    return _page(request, "desk/sources.html", sources=rows, interest=interest)
