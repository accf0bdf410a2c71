"""The editors' desk in process: sign-in, guards on every page and form, and each editor action."""

from __future__ import annotations

import html
import re
import socket
import threading
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.responses import Response

from curator import editorial, sessions, users
from curator.curate import build_draft, taste
from curator.errors import ConfigError
from curator.sources import load_sources
from curator.store.schema import audit_log, items, taste_models
from curator.web import create_app, desk, session
from curator.web.auth import safe_next
from tests import newsroom

PERIOD = "2026-12"
PASSWORD = newsroom.PASSWORD
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def conf(settings, tmp_path):
    # One-line newsroom items: the score floor (min_pick_score) would leave the desk half empty.
    return settings.model_copy(update={"feeds": newsroom.write_feeds_yaml(tmp_path), "min_pick_score": -100.0})


@pytest.fixture
def client(conf, engine):
    with TestClient(create_app(conf, engine), base_url="https://news.example.org") as client:
        yield client


@pytest.fixture
def drafted(conf, engine):
    newsroom.seed(engine)
    build_draft(engine, conf, load_sources(conf.feeds), PERIOD, actor="test")
    with engine.connect() as conn:
        return editorial.list_picks(conn, PERIOD)


def token(client, path: str = "/login") -> str:
    """The CSRF token in the forms of `path` (every page has one once signed in: sign-out)."""
    page = client.get(path)
    found = TOKEN.search(page.text)
    assert found, page.text
    return found.group(1)


@pytest.fixture
def sign_in():
    """Sign in as a new user of `role`: through the form, or (fast) with the session it would set."""

    def sign_in(client, engine, role: str = "editor", *, form: bool = False) -> str:
        email = f"{role}@example.org"
        with engine.begin() as conn:
            user = newsroom.add_user(conn, email, role)
        if form:
            response = post(client, "/login", {"email": email, "password": PASSWORD, "next": ""}, token(client))
            assert response.status_code == 303, response.text
        else:
            with engine.begin() as conn:
                session_id = sessions.start(conn, user["id"])
            response = Response()
            session.start_session(response, client.app.state.settings, session_id)
            for header in response.headers.getlist("set-cookie"):
                for name, morsel in SimpleCookie(header).items():
                    client.cookies.set(name, morsel.value)
        return token(client, "/desk")

    return sign_in


def post(client, path: str, data: dict | None = None, csrf: str | None = None, **kw):
    data = dict(data or {})
    if csrf is not None:
        data["csrf_token"] = csrf
    return client.post(path, data=data, follow_redirects=kw.pop("follow_redirects", False), **kw)


def flashes(client, path: str = f"/desk/{PERIOD}") -> str:
    page = client.get(path)
    return " ".join(re.findall(r'<div class="flash \w+" role="\w+">(.*?)</div>', page.text, re.S))


def flashes_by_level(client, path: str = f"/desk/{PERIOD}") -> list[tuple[str, str]]:
    page = client.get(path)
    return re.findall(r'<div class="flash (\w+)" role="\w+">(.*?)</div>', page.text, re.S)


def audit_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(audit_log)).scalar_one()


def pick_of(engine, pick_id: int) -> dict:
    with engine.connect() as conn:
        return editorial.get_pick(conn, pick_id)


def issue_of(engine) -> dict:
    with engine.connect() as conn:
        return editorial.get_issue(conn, PERIOD)


# Every desk page and form, with a valid payload; a new route must be added here (checked below).
def desk_gets(pick_id: int) -> list[str]:
    return [
        "/desk", f"/desk/{PERIOD}", f"/desk/{PERIOD}/preview", f"/desk/{PERIOD}/preview/email",
        f"/desk/{PERIOD}/approve", f"/desk/{PERIOD}/fetch",
    ]


def desk_posts(pick_id: int) -> list[tuple[str, dict]]:
    return [
        ("/desk/draft", {"period": PERIOD}),
        (f"/desk/{PERIOD}/edit", {"subject": "S", "preheader": "P", "intro": "I"}),
        (f"/desk/{PERIOD}/picks/{pick_id}/decision", {"decision": "approved"}),
        (f"/desk/{PERIOD}/picks/{pick_id}/move", {"direction": "down"}),
        (f"/desk/{PERIOD}/picks/{pick_id}/blurb", {"blurb": "Nice."}),
        (f"/desk/{PERIOD}/picks/{pick_id}/edit", {"title": "T", "summary": "S", "topic": "career", "blurb": "B"}),
        (f"/desk/{PERIOD}/topics/career/order", {"order": [str(pick_id)]}),
        (f"/desk/{PERIOD}/fetch", {}),
        (f"/desk/{PERIOD}/approve-quota", {}),
        (f"/desk/{PERIOD}/links", {"url": "https://a.example/", "topic": "career", "title": "T", "summary": "S"}),
        (f"/desk/{PERIOD}/test", {"topic": "career"}),
        (f"/desk/{PERIOD}/approve", {}),
        (f"/desk/{PERIOD}/reopen", {}),
    ]


def test_the_lists_above_cover_every_desk_route():
    routes = {(method, route.path) for route in desk.router.routes for method in route.methods}
    expected = {("GET", re.sub(r"\d{4}-\d\d", "{period}", p)) for p in desk_gets(1)}
    expected |= {("POST", re.sub(r"/topics/\w+/", "/topics/{topic}/", re.sub(
        r"/picks/1/", "/picks/{pick_id}/", re.sub(r"\d{4}-\d\d", "{period}", p)))) for p, _ in desk_posts(1)}
    assert routes == expected


# --- guards ----------------------------------------------------------------------------------


def test_every_desk_page_sends_an_anonymous_visitor_to_sign_in(client, drafted):
    pick_id = drafted[0]["id"]
    for path in desk_gets(pick_id):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login?next=" + path, path
    csrf = token(client)  # a valid anonymous token: sign-in is still required
    for path, data in desk_posts(pick_id):
        response = post(client, path, data, csrf)
        assert (response.status_code, response.headers["location"]) == (303, "/login"), path
    assert issue_of(client.app.state.engine)["status"] == "draft"


def test_every_desk_page_and_form_refuses_a_wrong_role(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine, "ops")
    before = audit_count(engine)
    for path in desk_gets(drafted[0]["id"]):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 403, path
        assert "ops@example.org (ops); this page is for admin or editor" in response.text
    for path, data in desk_posts(drafted[0]["id"]):
        assert post(client, path, data, csrf).status_code == 403, path
    assert audit_count(engine) == before


def test_an_admin_may_use_the_desk(client, engine, drafted, sign_in):
    sign_in(client, engine, "admin")
    assert client.get(f"/desk/{PERIOD}").status_code == 200


def test_every_form_refuses_a_missing_or_wrong_csrf_token(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine, "editor")
    before = audit_count(engine)
    forms = [*desk_posts(drafted[0]["id"]), ("/logout", {}),
             ("/login", {"email": "editor@example.org", "password": PASSWORD})]
    for path, data in forms:
        for bad in (None, "", "0" * 64, csrf[:-1] + ("0" if csrf[-1] != "0" else "1")):
            response = post(client, path, data, bad)
            assert response.status_code == 403, (path, bad)
            assert "security token is missing or out of date" in response.text
    assert audit_count(engine) == before
    assert client.get("/desk", follow_redirects=False).status_code == 200  # still signed in


def test_a_token_from_another_visitor_is_refused(conf, engine, client, drafted, sign_in):
    sign_in(client, engine, "editor")
    with TestClient(client.app, base_url="https://news.example.org") as other:
        foreign = token(other)
    assert post(client, f"/desk/{PERIOD}/approve-quota", {}, foreign).status_code == 403


# --- signing in ----------------------------------------------------------------------------------


def test_sign_in_sets_a_signed_httponly_lax_secure_cookie(client, engine):
    with engine.begin() as conn:
        newsroom.add_user(conn, "ed@example.org", "editor")
    page = client.get("/login?next=/desk/2026-12")
    assert 'name="next" value="/desk/2026-12"' in page.text
    response = post(client, "/login", {"email": "ed@example.org", "password": PASSWORD, "next": "/desk/2026-12"},
                    TOKEN.search(page.text).group(1))
    assert (response.status_code, response.headers["location"]) == (303, "/desk/2026-12")
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("curator_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    tampered = client.cookies["curator_session"][:-2] + "xx"
    client.cookies.clear()  # the jar keeps the cookie under the app's host: replace it, do not add a second
    client.cookies.set("curator_session", tampered)
    assert client.get("/desk", follow_redirects=False).status_code == 303  # a tampered cookie is nobody


def test_cookies_are_not_secure_on_plain_http(conf, engine):
    plain = conf.model_copy(update={"base_url": "http://localhost:8000"})
    with TestClient(create_app(plain, engine), base_url="http://localhost:8000") as client:
        page = client.get("/login")
        assert page.headers.get_list("set-cookie")
        assert all("Secure" not in c for c in page.headers.get_list("set-cookie"))


def test_a_wrong_password_and_too_many_attempts(client, engine, conf):
    with engine.begin() as conn:
        newsroom.add_user(conn, "ed@example.org", "editor")
    csrf = token(client)
    for _ in range(conf.login_max_failures):
        response = post(client, "/login", {"email": "ed@example.org", "password": "nope nope nope"}, csrf)
        assert response.status_code == 401
        assert "the email or password is wrong" in response.text
        assert 'value="ed@example.org"' in response.text  # the address stays typed in
    response = post(client, "/login", {"email": "ed@example.org", "password": PASSWORD}, csrf)
    assert response.status_code == 429
    assert "too many failed sign-ins" in response.text


def test_sign_in_never_redirects_to_another_site(client, engine):
    with engine.begin() as conn:
        newsroom.add_user(conn, "ed@example.org", "editor")
    response = post(client, "/login", {"email": "ed@example.org", "password": PASSWORD, "next": "//evil.example/x"},
                    token(client))
    assert response.headers["location"] == "/desk"
    editor, ops = {"role": "editor"}, {"role": "ops"}
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "", None):
        assert safe_next(evil, editor) == "/desk" and safe_next(evil, ops) == "/ops"
    assert safe_next("/desk/2026-12?x=1", editor) == "/desk/2026-12?x=1"


def test_the_first_visitor_is_told_how_to_create_an_account(client):
    assert "curator users add you@example.com --role admin" in client.get("/login").text


def test_sign_in_and_out_through_the_forms(client, engine, sign_in):
    csrf = sign_in(client, engine, form=True)
    assert "editor@example.org · editor" in client.get("/desk").text
    response = post(client, "/logout", {}, csrf)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert "You are signed out." in client.get("/login").text
    assert client.get("/desk", follow_redirects=False).status_code == 303


def test_a_password_change_ends_existing_sessions(client, engine, sign_in):
    sign_in(client, engine)
    with engine.begin() as conn:
        users.set_password(conn, "editor@example.org", "another password")
    assert client.get("/desk", follow_redirects=False).status_code == 303


def test_serve_needs_a_secret_key(conf, engine):
    with pytest.raises(ConfigError, match="`curator serve` needs CURATOR_SECRET_KEY"):
        create_app(conf.model_copy(update={"secret_key": None}), engine)


# --- the editor's work ------------------------------------------------------------------------------


def test_index_lists_issues_and_builds_the_coming_draft(client, engine, conf, sign_in):
    newsroom.seed(engine)
    csrf = sign_in(client, engine)
    page = client.get("/desk")
    assert "No issues yet." in page.text and "Build the draft for" in page.text
    coming = re.search(r'name="period" value="(\d{4}-\d\d)"', page.text).group(1)
    response = post(client, "/desk/draft", {"period": coming}, csrf)
    assert (response.status_code, response.headers["location"]) == (303, f"/desk/{coming}")
    assert "new candidates from 12 items" in flashes(client, f"/desk/{coming}")
    with engine.connect() as conn:
        assert len(editorial.list_picks(conn, coming)) > 0
    assert f"/desk/{coming}" in client.get("/desk").text


def test_a_draft_that_adds_nothing_is_a_warning_saying_why(client, engine, sign_in):
    csrf = sign_in(client, engine)  # no items at all: nothing was ingested
    post(client, "/desk/draft", {"period": PERIOD}, csrf)
    [(level, text)] = flashes_by_level(client)
    assert level == "warning" and "no new candidates, because no items were published since" in text
    assert "Run an ingest (`curator ingest`)" in text

    newsroom.seed(engine)
    post(client, "/desk/draft", {"period": PERIOD}, csrf)
    [(level, text)] = flashes_by_level(client)
    assert level == "success" and "new candidates from 12 items" in text
    post(client, "/desk/draft", {"period": PERIOD}, csrf)  # again: every item is a candidate already
    [(level, text)] = flashes_by_level(client)
    assert level == "warning" and "no new candidates. The 12 items published since" in text
    assert "Run an ingest (`curator ingest`)" in text


def test_issue_page_groups_candidates_by_topic_with_their_reasons(client, engine, drafted, sign_in):
    sign_in(client, engine)
    page = client.get(f"/desk/{PERIOD}").text
    assert page.index('id="topic-career"') < page.index('id="topic-learning"') < page.index('id="topic-leadership"')
    first = drafted[0]
    assert f'id="pick-{first["id"]}"' in page
    # Issue 9: each part of the score with its words (see curator/curate/score.py).
    assert "lexical +" in page and "(matched: career, salary, promotion)" in page
    assert "semantic " in page and "kind " in page and "source weight +1.5 · freshness" in page
    assert '<span class="kind">' in page  # the page kind beside the source
    career = page[page.index('id="topic-career"'):page.index('id="topic-learning"')]
    assert "quota of 2" in career  # the spares sit below the quota line


def _last_month_read(engine) -> None:
    """A sent issue with one pick from Careers Weekly and one from Learn Daily, eight recipients:
    two people clicked the career pick (and one asked for more), scanners clicked the learning pick."""
    from datetime import timedelta

    from sqlalchemy import insert, update

    from curator.store.schema import clicks, deliveries, feedback, issues, now, picks

    rows = [(0, "An older career read", "Career and salary advice.", 30), (1, "An older course", "A course.", 30)]
    ids = list(newsroom.seed(engine, rows=rows).values())
    with engine.begin() as conn:
        issue = editorial.ensure_issue(conn, "2026-11", "test")
        sent = now() - timedelta(days=20)
        conn.execute(update(issues).where(issues.c.id == issue["id"]).values(status="sent", sent_at=sent))
        pick_ids = [conn.execute(insert(picks).values(issue_id=issue["id"], item_id=item, topic=topic, rank=1,
                                                      decision="approved", parts={"page_kind": "article"}))
                    .inserted_primary_key[0] for item, topic in zip(ids, ("career", "learning"), strict=True)]
        people = [conn.execute(insert(deliveries).values(issue_id=issue["id"], email=f"r{n}@example.com",
                                                         state="sent", sent_at=sent)).inserted_primary_key[0]
                  for n in range(8)]
        career, learning = pick_ids
        conn.execute(insert(clicks), [
            {"issue_id": issue["id"], "pick_id": career, "delivery_id": people[0], "human": True},
            {"issue_id": issue["id"], "pick_id": career, "delivery_id": people[0], "human": True},  # twice: one
            {"issue_id": issue["id"], "pick_id": career, "delivery_id": people[1], "human": True},
            *({"issue_id": issue["id"], "pick_id": learning, "delivery_id": d, "human": False,
               "reason": "scanner user agent"} for d in people[2:5]),
        ])
        conn.execute(insert(feedback).values(issue_id=issue["id"], pick_id=career, delivery_id=people[1], vote=1))


def test_each_candidate_says_what_readers_did_with_its_sources_past_picks(client, engine, conf, sign_in):
    _last_month_read(engine)
    newsroom.seed(engine)
    build_draft(engine, conf, load_sources(conf.feeds), PERIOD, actor="test")
    with engine.connect() as conn:
        rows = editorial.list_picks(conn, PERIOD)
    sign_in(client, engine)
    page = client.get(f"/desk/{PERIOD}").text
    lines = {r["source"]: html.unescape(re.search(rf'id="pick-{r["id"]}-readers">([^<]*)</div>', page).group(1))
             for r in rows}
    assert lines == {
        "Careers Weekly": "Readers of its source's past picks: 2 of 8 delivered picks clicked (25.0%, against "
                          "12.5% overall) · 1 more, 0 less like this",
        "Learn Daily": "Readers of its source's past picks: 0 of 8 delivered picks clicked (0.0%, against "
                       "12.5% overall)",
        "Lead Well": "Readers of its source's past picks: no readers' data yet",
    }
    # The score part says the same, in the reasons under each candidate.
    career = next(r for r in rows if r["source"] == "Careers Weekly")
    assert career["parts"]["readers"] > 0
    assert "readers +" in page and "source: about average: readers clicked 2 of 8 delivered picks" in page


def test_approve_reject_reorder_and_blurb(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine)
    career = [p for p in drafted if p["topic"] == "career"]
    a, b = career[0]["id"], career[1]["id"]
    assert post(client, f"/desk/{PERIOD}/picks/{a}/decision", {"decision": "approved"}, csrf).status_code == 303
    assert pick_of(engine, a)["decision"] == "approved"
    assert "Approved: " + career[0]["title"] in flashes(client)
    post(client, f"/desk/{PERIOD}/picks/{b}/decision", {"decision": "rejected"}, csrf)
    assert pick_of(engine, b)["decision"] == "rejected"
    post(client, f"/desk/{PERIOD}/picks/{b}/decision", {"decision": "suggested"}, csrf)
    assert pick_of(engine, b)["decision"] == "suggested"

    response = post(client, f"/desk/{PERIOD}/picks/{b}/move", {"direction": "up"}, csrf)
    assert response.headers["location"] == f"/desk/{PERIOD}#pick-{b}"
    assert pick_of(engine, b)["rank"] < pick_of(engine, a)["rank"]
    post(client, f"/desk/{PERIOD}/picks/{b}/move", {"direction": "up"}, csrf)
    assert "is already first in career" in flashes(client)

    post(client, f"/desk/{PERIOD}/picks/{a}/blurb", {"blurb": "  The <b>best</b> guide.  "}, csrf)
    assert pick_of(engine, a)["blurb"] == "The <b>best</b> guide."
    assert "The &lt;b&gt;best&lt;/b&gt; guide." in client.get(f"/desk/{PERIOD}").text

    post(client, f"/desk/{PERIOD}/picks/{a}/decision", {"decision": "maybe"}, csrf)
    assert "&#39;maybe&#39; is not a decision" in flashes(client)


def test_a_pick_from_another_issue_is_not_found(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine)
    response = post(client, f"/desk/2027-01/picks/{drafted[0]['id']}/decision", {"decision": "approved"}, csrf)
    assert response.status_code == 404
    assert f"pick #{drafted[0]['id']} is not in issue 2027-01" in response.text


def test_edit_subject_preheader_and_intro(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine)
    post(client, f"/desk/{PERIOD}/edit", {"subject": " December picks ", "preheader": "Five reads",
                                          "intro": "Hello.\n\nWelcome."}, csrf)
    issue = issue_of(engine)
    assert (issue["subject"], issue["preheader"], issue["intro"]) == ("December picks", "Five reads",
                                                                      "Hello.\n\nWelcome.")
    post(client, f"/desk/{PERIOD}/edit", {"subject": "", "preheader": "", "intro": ""}, csrf)
    assert "the subject cannot be empty" in flashes(client)
    assert issue_of(engine)["subject"] == "December picks"


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path == "/article":
            body = (b'<html><head><title>Plain title</title><meta property="og:title" content="A Good Read">'
                    b'<meta name="description" content="Why it matters."></head><body>x</body></html>')
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
        else:
            body = b"gone"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def pages():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_add_a_link_by_hand(client, engine, drafted, pages, sign_in):
    csrf = sign_in(client, engine)
    post(client, f"/desk/{PERIOD}/links", {"url": f"{pages}/article", "topic": "learning"}, csrf)
    assert "Added A Good Read to learning, approved." in flashes(client)
    with engine.connect() as conn:
        item = conn.execute(select(items).where(items.c.manual.is_(True))).mappings().one()
    assert (item["title"], item["summary_text"]) == ("A Good Read", "Why it matters.")

    before = audit_count(engine)
    post(client, f"/desk/{PERIOD}/links", {"url": f"{pages}/missing", "topic": "learning"}, csrf)
    assert "could not fetch that page. Type a title" in flashes(client)
    post(client, f"/desk/{PERIOD}/links", {"url": f"http://127.0.0.1:{_closed_port()}/x", "topic": "career"}, csrf)
    assert "could not fetch that page" in flashes(client)
    assert audit_count(engine) == before

    typed = {"url": f"http://127.0.0.1:{_closed_port()}/y", "topic": "career", "title": "Typed title",
             "summary": "Typed summary"}
    post(client, f"/desk/{PERIOD}/links", typed, csrf)
    assert "Added Typed title to career" in flashes(client)
    post(client, f"/desk/{PERIOD}/links", {**typed, "topic": "astrology"}, csrf)
    assert "choose a topic for the link" in flashes(client)


def test_preview_shows_exactly_what_a_subscriber_receives(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine)
    empty = client.get(f"/desk/{PERIOD}/preview").text
    assert "Nothing is approved yet" in empty
    learning = next(p for p in drafted if p["topic"] == "learning")
    career = next(p for p in drafted if p["topic"] == "career")
    for pick in (learning, career):
        post(client, f"/desk/{PERIOD}/picks/{pick['id']}/decision", {"decision": "approved"}, csrf)
    page = client.get(f"/desk/{PERIOD}/preview", params={"topic": ["learning"]}).text
    frame = re.search(r'<iframe class="email desktop light" title="[^"]+" sandbox="" src="([^"]*)"', page)
    assert frame, "the HTML part is shown in a sandboxed iframe"
    email = client.get(frame.group(1).replace("&amp;", "&"))
    assert "script-src" not in email.headers["content-security-policy"]  # default-src 'none': nothing runs
    assert "frame-ancestors 'self'" in email.headers["content-security-policy"]
    html = email.text
    assert html.index(learning["title"][:20]) < html.index(career["title"][:20])  # their topic first
    text = re.search(r'<pre class="text" data-part="text"[^>]*>(.*?)</pre>', page, re.S).group(1)
    assert learning["title"][:20] in text and text.index(learning["title"][:20]) < text.index(career["title"][:20])
    with_suggested = client.get(f"/desk/{PERIOD}/preview", params={"suggested": "1"}).text
    assert drafted[-1]["title"][:20] in with_suggested


def test_the_desk_says_what_a_blurb_does_and_the_preview_agrees(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine)
    pick = next(p for p in drafted if p["summary_text"])
    post(client, f"/desk/{PERIOD}/picks/{pick['id']}/decision", {"decision": "approved"}, csrf)
    post(client, f"/desk/{PERIOD}/picks/{pick['id']}/blurb", {"blurb": "Read this one first."}, csrf)
    hint = re.search(rf'<label for="blurb-{pick["id"]}">Blurb <span class="hint">(.*?)</span>',
                     client.get(f"/desk/{PERIOD}").text).group(1)
    assert "replaces the summary in the email, the preview and the archive" in hint and "above" not in hint
    text = re.search(r'<pre class="text" data-part="text"[^>]*>(.*?)</pre>', client.get(f"/desk/{PERIOD}/preview").text,
                     re.S).group(1)
    assert "Read this one first." in text and " ".join(pick["summary_text"].split()[:4]) not in " ".join(text.split())


def test_the_preview_wraps_long_links_in_the_text_box(client, engine, drafted, sign_in):
    sign_in(client, engine)
    page = client.get(f"/desk/{PERIOD}/preview").text
    assert '<link rel="stylesheet" href="/static/desk.css">' in page
    rule = re.search(r"\.tabs pre\.text \{([^}]*)\}", client.get("/static/desk.css").text).group(1)
    declarations = dict(d.split(":", 1) for d in (part.strip() for part in rule.split(";")) if d)
    declarations = {k.strip(): v.strip() for k, v in declarations.items()}
    assert declarations["white-space"] == "pre-wrap" and declarations["overflow-wrap"] == "anywhere"


def test_send_a_test_copy_to_oneself(client, engine, conf, drafted, sign_in):
    csrf = sign_in(client, engine)
    post(client, f"/desk/{PERIOD}/test", {"topic": ["leadership", "career"]}, csrf)
    assert "Sent a test copy of 2026-12 to editor@example.org" in flashes(client)
    sent = list(conf.outbox_dir.glob("*.eml"))
    assert len(sent) == 1
    message = sent[0].read_text(errors="replace")
    assert "editor@example.org" in message and "[TEST]" in message


def test_approve_the_issue_after_a_confirmation_with_warnings(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine)
    page = client.get(f"/desk/{PERIOD}/approve").text
    assert "Nothing is approved yet" in page and "Yes, approve" not in page
    post(client, f"/desk/{PERIOD}/approve", {}, csrf)
    assert "has no approved picks: approve some first" in flashes(client)
    assert issue_of(engine)["status"] == "draft"

    career = next(p for p in drafted if p["topic"] == "career")
    post(client, f"/desk/{PERIOD}/picks/{career['id']}/decision", {"decision": "approved"}, csrf)
    page = client.get(f"/desk/{PERIOD}/approve").text
    assert "Learning (learning) has no approved picks" in page and "Yes, approve the issue anyway" in page
    response = post(client, f"/desk/{PERIOD}/approve", {}, csrf)
    assert response.headers["location"] == f"/desk/{PERIOD}"
    issue = issue_of(engine)
    assert (issue["status"], issue["approved_by"]) == ("approved", "editor@example.org")
    shown = flashes(client)
    assert "Issue 2026-12 is approved" in shown and "Leadership (leadership) has no approved picks" in shown

    # Approved: edits are refused with the reason, until it is reopened.
    post(client, f"/desk/{PERIOD}/picks/{career['id']}/decision", {"decision": "rejected"}, csrf)
    assert "issue 2026-12 is approved: picks and text change only while it is a draft or in review" in flashes(
        client)
    assert pick_of(engine, career["id"])["decision"] == "approved"
    assert "Reopen for edits" in client.get(f"/desk/{PERIOD}").text
    post(client, f"/desk/{PERIOD}/reopen", {}, csrf)
    assert issue_of(engine)["status"] == "in_review"


def test_approving_in_the_desk_teaches_the_taste_model_as_the_command_line_does(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine)
    with engine.connect() as conn:
        drafted_with = conn.execute(select(func.max(taste_models.c.version))).scalar_one()  # the draft trained one
    decisions = {"approved": [p for p in drafted if "Sponsored" not in p["title"]][:3],
                 "rejected": [p for p in drafted if "Sponsored" not in p["title"]][3:5]}
    for decision, chosen in decisions.items():
        for pick in chosen:
            post(client, f"/desk/{PERIOD}/picks/{pick['id']}/decision", {"decision": decision}, csrf)
    with engine.connect() as conn:
        assert conn.execute(select(func.max(taste_models.c.version))).scalar_one() == drafted_with  # not yet
    post(client, f"/desk/{PERIOD}/approve", {}, csrf)
    assert issue_of(engine)["status"] == "approved"
    with engine.connect() as conn:
        newest = conn.execute(select(taste_models).order_by(taste_models.c.version.desc()).limit(1)).one()
        assert newest.fingerprint == taste.fingerprint(conn)
    assert newest.version == drafted_with + 1
    assert newest.decisions == 5 and newest.model is not None  # learned from the review's five decisions


def test_approve_suggested_within_quota(client, engine, drafted, sign_in):
    csrf = sign_in(client, engine)
    post(client, f"/desk/{PERIOD}/approve-quota", {}, csrf)
    assert "Approved 5 suggested picks" in flashes(client)  # quotas 2 + 2 + 1


def test_error_pages(client, engine, sign_in):
    sign_in(client, engine)
    missing = client.get("/desk/2031-01")
    assert missing.status_code == 404 and "there is no issue for 2031-01" in missing.text
    assert "Back to the editors&#39; desk" in missing.text
    bad = client.get("/desk/2031-13")
    assert bad.status_code == 404 and "periods look like 2026-12" in bad.text
    nowhere = client.get("/nowhere-at-all")
    assert nowhere.status_code == 404 and "There is no page at this address" in nowhere.text
    wrong_method = client.get("/logout")
    assert wrong_method.status_code == 405
    as_json = client.get("/desk/2031-01", headers={"Accept": "application/json"})
    assert as_json.json() == {"error": "there is no issue for 2031-01: run `curator draft 2031-01` first"}


def test_pages_forbid_framing_by_other_sites(client, engine, sign_in):
    sign_in(client, engine)
    response = client.get("/desk")
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src 'self';" in response.headers["content-security-policy"]  # no inline script
    assert response.headers["cache-control"] == "no-store"


def test_the_ops_guard_lets_ops_and_admins_send_but_not_editors(conf, engine, sign_in):
    from fastapi import Depends

    from curator.web.auth import OPS

    app = create_app(conf, engine)
    app.add_api_route("/ops-only", lambda: {"sent": True}, methods=["GET"], dependencies=[Depends(OPS)])
    for role, status in (("editor", 403), ("ops", 200), ("admin", 200)):
        with TestClient(app, base_url="https://news.example.org") as client:
            sign_in(client, engine, role)
            assert client.get("/ops-only", follow_redirects=False).status_code == status, role
