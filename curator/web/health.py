"""`GET /healthz`: the database answers, its schema is current, and the scheduler's leader is beating.

200 when every check passes, 503 otherwise. Anyone gets `{"status": "ok"}` or
`{"status": "unhealthy"}`; a signed-in ops user or admin also gets every check with its
details (the scheduler's host:pid, the schema revision), which tell an outsider too much.
A failing check is logged with its details, for ops who cannot sign in (the database is down).
A load balancer that routes to the web app should ask `/healthz?scope=web`, which leaves
out the scheduler: a silent scheduler is for ops to fix, not a reason to stop serving pages.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse

from curator import store
from curator.errors import DatabaseError

log = logging.getLogger("curator.web.health")
router = APIRouter()
DETAIL_ROLES = ("ops", "admin")


@router.get("/healthz", include_in_schema=False)
def healthz(request: Request, scope: Literal["all", "web"] = Query("all")) -> JSONResponse:
    settings, engine = request.app.state.settings, request.app.state.engine
    checks: dict[str, dict] = {}
    try:
        current = store.current_revision(engine)
    except DatabaseError as exc:
        checks["database"] = {"ok": False, "error": str(exc)}
    else:
        checks["database"] = {"ok": True}
        head = store.head_revision()
        checks["migrations"] = {"ok": current == head, "current": current, "head": head}
        if current != head:
            checks["migrations"]["error"] = "the schema is not current: run `curator db upgrade`"
        if scope == "all":
            checks["scheduler"] = _scheduler(engine, settings.scheduler_lock_timeout)
    healthy = all(check["ok"] for check in checks.values())
    if not healthy:
        log.warning("unhealthy: %s", "; ".join(f"{name}: {c.get('error', 'failed')}"
                                                for name, c in checks.items() if not c["ok"]))
    body: dict = {"status": "ok" if healthy else "unhealthy"}
    if _ops(request):
        body["checks"] = checks
    return JSONResponse(body, status_code=200 if healthy else 503, headers={"Cache-Control": "no-store"})


def _ops(request: Request) -> bool:
    """Whether the visitor is signed in as ops or admin; nobody is when the database cannot say."""
    from curator.web.auth import current_user

    try:
        user = current_user(request)
    except Exception:  # the database may be what is down
        return False
    return user is not None and user["role"] in DETAIL_ROLES


def _scheduler(engine, timeout: float) -> dict:
    from scheduler.leader import leader_status

    try:
        with engine.connect() as conn:
            leader = leader_status(conn, timeout)
    except Exception as exc:  # the table may be missing when migrations are behind
        return {"ok": False, "error": f"cannot read the scheduler's heartbeat: {exc.__class__.__name__}"}
    if leader is None:
        return {"ok": False, "error": "no scheduler holds the lock: start `python -m scheduler`"}
    check = {"ok": leader["alive"], "leader": leader["holder"], "heartbeat_at": leader["heartbeat_at"].isoformat(),
             "age_seconds": leader["age_seconds"]}
    if not check["ok"]:
        check["error"] = f"the leader's last heartbeat is {leader['age_seconds']:.0f} s old (limit {timeout:g} s)"
    return check
