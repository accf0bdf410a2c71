"""The ops console's readers' reports: per issue, people first and machines beside them, a trend, CSV."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from sqlalchemy import select
from starlette.responses import Response

from curator import editorial
from curator.engagement import export, figures
from curator.store.schema import issues
from curator.web import session
from curator.web.auth import OPS, csrf_protect
from curator.web.ops import _engine, _page

router = APIRouter(prefix="/ops", dependencies=[Depends(OPS), Depends(csrf_protect)])


@router.get("/reports")
def reports(request: Request) -> Response:
    with _engine(request).connect() as conn:
        rows = conn.execute(
            select(issues.c.period, issues.c.status)
            .where(issues.c.status.in_(figures.REPORTED))
            .order_by(issues.c.period.desc())
        ).all()
    return _page(request, "reports.html", issues=rows)


def _report(request: Request, period: str) -> figures.Report:
    settings = session.settings_of(request)
    with _engine(request).connect() as conn:
        return figures.report(conn, editorial.parse_period(period), extra_networks=settings.click_scanner_networks)


@router.get("/reports/{period}.csv")
def report_csv(request: Request, period: str) -> Response:
    found = _report(request, period)
    headers = {"Content-Disposition": f'attachment; filename="curator-{found.period}.csv"', "Cache-Control": "no-store"}
    return Response(export.report_csv(found), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/reports/{period}")
def report_page(request: Request, period: str) -> Response:
    found = _report(request, period)
    chart = Markup(export.trend_svg(found.trend))  # built from numbers and escaped periods only
    return _page(request, "report.html", report=found, chart=chart)
