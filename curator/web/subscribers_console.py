"""Subscribers in the ops console: search and filter, add, remove, suppress, CSV import and export, growth.

The import takes a whole file from a plain form (the page lists every refused line), or, with
JavaScript, the same file in parts of a few hundred lines, so the page can show a progress bar;
each part carries the header line and where it starts, so refused lines keep the file's numbering.
"""

from __future__ import annotations

import io
from datetime import date

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from starlette.responses import JSONResponse, Response

from curator import subscribers
from curator.editorial import audit
from curator.errors import CuratorError
from curator.sources import load_sources
from curator.store.schema import SUBSCRIBER_STATUSES
from curator.web import charts, session
from curator.web.auth import OPS, csrf_protect
from curator.web.ops import _act, _engine, _page

router = APIRouter(prefix="/ops", dependencies=[Depends(OPS), Depends(csrf_protect)])
PAGE = 50
MAX_UPLOAD = 20_000_000  # bytes; a CSV of about 200,000 subscribers
IMPORT_JS = """\
// Import a CSV in parts of PART lines, showing a progress bar and every refused line as it comes.
(function () {
  var form = document.getElementById("import-form");
  if (!form || !window.FileReader) return;
  var PART = 200;
  form.addEventListener("submit", function (event) {
    var file = form.querySelector("input[type=file]").files[0];
    if (!file) return;
    event.preventDefault();
    var bar = document.getElementById("import-progress"), said = document.getElementById("import-status");
    var list = document.getElementById("import-errors");
    bar.hidden = false; list.innerHTML = "";
    file.text().then(function (text) {
      var lines = splitLines(text), header = lines.shift(), added = 0, refused = 0, i = 0;
      bar.max = lines.length || 1; bar.value = 0;
      function next() {
        if (i >= lines.length) {
          said.textContent = "Done: " + added + " added, " + refused + " refused.";
          return;
        }
        var part = lines.slice(i, i + PART), data = new FormData();
        data.append("csrf_token", form.elements.csrf_token.value);
        data.append("csv", header + "\\n" + part.join("\\n"));
        data.append("offset", String(i));
        data.append("name", file.name);
        fetch(form.dataset.partUrl, {method: "POST", body: data, credentials: "same-origin",
                                     headers: {"Accept": "application/json"}})
          .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
          .then(function (answer) {
            if (!answer[0]) { said.textContent = "Stopped: " + answer[1].error; return; }
            added += answer[1].added; refused += answer[1].rejected.length;
            answer[1].rejected.forEach(function (r) {
              var item = document.createElement("li");
              item.textContent = "Line " + r.line + " (" + r.email + "): " + r.reason;
              list.appendChild(item);
            });
            i += part.length; bar.value = i;
            said.textContent = i + " of " + lines.length + " lines: " + added + " added, " + refused + " refused";
            next();
          })
          .catch(function (e) { said.textContent = "Stopped: " + e; });
      }
      next();
    });
  });
  // Lines of a CSV, keeping a quoted field's line breaks inside its line.
  function splitLines(text) {
    var out = [], start = 0, quoted = false;
    text = text.replace(/^\\ufeff/, "");
    for (var k = 0; k < text.length; k++) {
      var c = text[k];
      if (c === '"') quoted = !quoted;
      else if (c === "\\n" && !quoted) { out.push(text.slice(start, k).replace(/\\r$/, "")); start = k + 1; }
    }
    if (start < text.length) out.push(text.slice(start).replace(/\\r$/, ""));
    return out;
  }
})();
"""


def _known(request: Request) -> list:
    return list(load_sources(session.settings_of(request).feeds).topics)


@router.get("/subscribers")
def subscribers_page(
    request: Request, q: str = Query(""), status: str = Query(""), topic: str = Query(""), page: int = Query(1, ge=1),
) -> Response:
    status = status if status in SUBSCRIBER_STATUSES else ""
    with _engine(request).connect() as conn:
        rows, total = subscribers.search(conn, text=q, status=status, topic=topic, limit=PAGE, offset=(page - 1) * PAGE)
        counts = subscribers.status_counts(conn)
        weeks = subscribers.growth(conn, date.today())
    return _page(
        request, "subscribers.html", rows=rows, total=total, counts=counts, q=q, status=status, topic=topic,
        page=page, pages=max(1, -(-total // PAGE)), topics=_known(request), statuses=SUBSCRIBER_STATUSES,
        chart=charts.growth_svg(weeks), weeks=weeks,
    )


@router.get("/subscribers/growth.svg")
def growth_svg(request: Request) -> Response:
    with _engine(request).connect() as conn:
        weeks = subscribers.growth(conn, date.today())
    return Response(charts.growth_svg(weeks), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get("/subscribers.csv")
def export(request: Request, status: str = Query("")) -> Response:
    out = io.StringIO()
    with _engine(request).connect() as conn:
        subscribers.export_csv(conn, out, status if status in SUBSCRIBER_STATUSES else None)
    name = f"subscribers-{status or 'all'}-{date.today():%Y-%m-%d}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.post("/subscribers/add")
def add(request: Request, email: str = Form(""), name: str = Form(""), topics: list[str] = Form([]),
        user: dict = Depends(OPS)) -> Response:
    def action() -> str:
        with _engine(request).begin() as conn:
            sub = subscribers.add(conn, email, name=name, topics=topics, known_topics=[t.name for t in _known(request)],
                                  source="ops")
            audit(conn, user["email"], "subscriber.add", f"subscriber:{sub['id']}", "added in the ops console")
        return f"Added {sub['email']} (active)."

    return _act(request, "/ops/subscribers", action)


@router.post("/subscribers/{subscriber_id}/{verb}")
def change(request: Request, subscriber_id: int, verb: str, confirm: str = Form(""), back: str = Form(""),
           user: dict = Depends(OPS)) -> Response:
    """Suppress (never mail again) or remove (erase, as `curator subscribers forget`)."""
    def action() -> str:
        if verb not in ("suppress", "remove"):
            raise CuratorError(f"there is no subscriber action {verb!r}: suppress or remove")
        with _engine(request).begin() as conn:
            sub = subscribers.get(conn, subscriber_id)
            if verb == "suppress":
                subscribers.suppress(conn, sub["email"], "unsubscribed", f"suppressed by {user['email']}")
                audit(conn, user["email"], "subscriber.suppress", f"subscriber:{sub['id']}", "suppressed by ops")
                return f"{sub['email']} is suppressed: no issue goes to it any more."
            if confirm != "yes":
                raise CuratorError("tick the box to confirm: removing erases what is stored about the person")
            subscribers.forget(conn, sub["email"])
            audit(conn, user["email"], "subscriber.remove", f"subscriber:{sub['id']}", "erased by ops")
            return f"Removed {sub['email']}: nothing is kept but a bounce or complaint, if any."

    return _act(request, back if back.startswith("/ops/subscribers") else "/ops/subscribers", action)


@router.post("/subscribers/import")
async def import_file(request: Request, file: UploadFile = File(...), user: dict = Depends(OPS)) -> Response:
    """The whole file from the plain form: the page lists every refused line."""
    data = await file.read(MAX_UPLOAD + 1)
    name = file.filename or "upload.csv"
    report, problem = None, ""
    if len(data) > MAX_UPLOAD:
        problem = f"{name} is larger than {MAX_UPLOAD // 1_000_000} MB: split it, or use `curator subscribers import`"
    else:
        report, problem = _import(request, name, _text(data), 0, user)
    return _page(request, "import.html", report=report, problem=problem, file_name=name)


@router.post("/subscribers/import-part")
def import_part(request: Request, csv: str = Form(""), offset: int = Form(0, ge=0), name: str = Form("upload.csv"),
                user: dict = Depends(OPS)) -> Response:
    """One part of a file (its header line, then lines from offset + 2), for the page's progress bar."""
    report, problem = _import(request, name, csv, offset, user)
    if report is None:
        return JSONResponse({"error": problem}, status_code=400)
    return JSONResponse(report.as_dict())


def _import(request: Request, name: str, text: str, offset: int, user: dict):
    try:
        with _engine(request).begin() as conn:
            report = subscribers.import_text(conn, name, text, known_topics=[t.name for t in _known(request)],
                                             source="import", offset=offset)
            if report.added:
                audit(conn, user["email"], "subscribers.import", name,
                      f"{len(report.added)} added, {len(report.rejected)} refused (from line {offset + 2})")
    except CuratorError as exc:
        return None, str(exc)
    return report, ""


def _text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


@router.get("/import.js")
def import_js() -> Response:
    return Response(IMPORT_JS, media_type="text/javascript", headers={"Cache-Control": "no-cache"})
