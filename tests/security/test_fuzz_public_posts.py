"""Every public POST route, fed random and malformed bodies, headers and content types: never a 500.

Property-based (hypothesis): whatever arrives, the answer is a deliberate one (below 500) and
no traceback leaks into it. The routes are read from the app, so a new public POST route
must be added to ROUTES (checked below) and gets fuzzed too.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curator.web import create_app
from tests.security.conftest import HOST

# Public POST routes, with the form fields each one reads (a token in the path is fuzzed too).
ROUTES = {
    "/subscribe": ["email", "name", "topics", "website"],
    "/confirm/{token}": [],
    "/preferences/{token}": ["name", "topics"],
    "/unsubscribe/{token}": ["List-Unsubscribe"],
    "/unsubscribe": ["email"],
    "/login": ["email", "password", "next", "csrf_token"],
    "/logout": ["csrf_token"],
    "/login/forgot": ["email", "csrf_token"],
    "/login/reset/{token}": ["password", "confirm", "csrf_token"],
    "/webhooks/sendgrid": [],
    "/f/{token}/{pick_id}": ["vote"],
    "/subscribe/resend": ["email"],
    "/preferences/{token}/address": ["new_email"],
    "/address/{token}": [],
    "/unsubscribe/{token}/reason": ["reason"],
    "/unsubscribe/{token}/undo": [],
}
SIGNED_IN_PREFIXES = ("/desk", "/ops", "/admin")
CONTENT_TYPES = [
    "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=bogus",
    "multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=xyz",
    "application/json", "application/json; charset=utf-16", "text/plain", "application/xml", "", "*/*",
    "application/x-www-form-urlencoded\x7f",
]
text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text, inner, max_size=5),
    max_leaves=20,
)


def _form(fields: list[str]):
    keys = st.sampled_from(fields) | text if fields else text
    return st.lists(st.tuples(keys, text), max_size=8)


@st.composite
def requests(draw, path: str, fields: list[str]):
    token = draw(st.sampled_from(["x", "", "a" * 500, "%00", "..%2f..", "eyJ.e30.x"]) | header_text)
    url = path.replace("{token}", token.replace("/", "%2F").replace("?", "%3F").replace("#", "%23") or "x")
    url = url.replace("{pick_id}", draw(st.sampled_from(["1", "0", "-1", "9" * 30, "x", "%00"])))
    kind = draw(st.sampled_from(["form", "json", "bytes", "nested"]))
    if kind == "form":
        body, data = urlencode(draw(_form(fields))).encode(), None
    elif kind == "json":
        body, data = json.dumps(draw(json_values)).encode(), None
    elif kind == "nested":
        depth = draw(st.integers(1, 5000))
        body, data = ("[" * depth + "]" * depth).encode(), None
    else:
        body, data = draw(st.binary(max_size=2000)), None
    headers = {"Content-Type": draw(st.sampled_from(CONTENT_TYPES) | header_text)}
    for name in draw(st.lists(st.sampled_from([
        "X-Forwarded-For", "Accept", "Cookie", "Origin", "Referer", "Content-Encoding",
        "X-Twilio-Email-Event-Webhook-Signature", "X-Twilio-Email-Event-Webhook-Timestamp",
    ]), max_size=4, unique=True)):
        headers[name] = draw(header_text)
    return url, body, data, headers


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory):
    """One app for all examples (hypothesis runs many per test); its own SQLite database."""
    from curator import store
    from curator.config import Settings
    from tests import newsroom
    from tests.security.conftest import SECRET

    folder = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{folder / 'curator.db'}"
    engine = store.make_engine(url)
    store.upgrade(engine)
    conf = Settings(
        database_url=url, secret_key=SECRET, base_url=HOST, outbox_dir=folder / "outbox",
        feeds=newsroom.write_feeds_yaml(folder), login_concurrent_hashes=1,
        # unsigned webhook posts are taken here so that random bodies reach the parser, not only the refusal
        webhook_allow_unsigned=True,
    )
    app = create_app(conf, engine)
    with TestClient(app, base_url=HOST, raise_server_exceptions=False) as client:
        client.routes = app.routes
        yield client
    engine.dispose()


def _all_routes(routes) -> list:
    """The app's routes, routers included (FastAPI keeps an included router as one entry)."""
    found = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        found += _all_routes(inner.routes) if inner is not None else [route]
    return found


def test_the_fuzzed_routes_are_every_public_post_route(fuzz_client):
    posted = {
        route.path for route in _all_routes(fuzz_client.routes)
        if "POST" in getattr(route, "methods", ()) and not route.path.startswith(SIGNED_IN_PREFIXES)
    }
    assert posted == set(ROUTES)


@pytest.mark.parametrize("path", sorted(ROUTES))
def test_no_body_header_or_content_type_makes_a_public_post_fail(fuzz_client, path):
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(requests(path, ROUTES[path]))
    def check(request):
        url, body, data, headers = request
        fuzz_client.cookies.clear()
        response = fuzz_client.post(url, content=body, data=data, headers=headers, follow_redirects=False)
        assert response.status_code < 500, (url, headers, response.status_code, response.text[:500])
        assert "Traceback" not in response.text and 'File "' not in response.text

    check()
