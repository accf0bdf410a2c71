"""Headers and hosts: CSP without inline script on every page, no framing, and no forged Host header."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from curator.web import create_app
from tests.browser.conftest import browser, free_socket, page, serve  # noqa: F401 - real Chromium fixtures
from tests.deliver.helpers import make_issue
from tests.security.conftest import PASSWORD, add_user, sign_in

PUBLIC = ["/", "/subscribe", "/unsubscribe", "/archive", "/login", "/nowhere", "/confirm/forged-token"]
SIGNED_IN = ["/desk", "/ops", "/ops/audit", "/desk/2031-01"]


def _assert_page_headers(response) -> None:
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] in ("same-origin", "no-referrer")
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    body = response.text
    styles = re.findall(r'<style nonce="([^"]+)"', body)
    assert styles and set(styles) == {nonce}  # every <style> carries this response's nonce
    assert body.count("<style") == len(styles)  # and none goes without
    assert not re.search(r"<[a-z][^>]*\sstyle=", body)  # no style attributes
    assert not re.search(r"<script(?![^>]*\ssrc=)", body)  # no inline script
    assert not re.search(r"\son[a-z]+=", body)  # no event handler attributes


@pytest.mark.parametrize("path", PUBLIC)
def test_every_public_page_sends_the_security_headers(client, path):
    _assert_page_headers(client.get(path))


def test_every_signed_in_page_sends_the_security_headers(client, engine):
    add_user(engine, "admin@example.org", "admin")
    sign_in(client, "admin@example.org")
    for path in SIGNED_IN:
        _assert_page_headers(client.get(path))


def test_the_archived_email_runs_no_script_and_cannot_be_framed(client, engine):
    make_issue(engine)  # an issue the archive may show
    from sqlalchemy import update

    from curator.store.schema import issues

    with engine.begin() as conn:
        period = conn.execute(update(issues).values(status="sent").returning(issues.c.period)).scalar_one()
    response = client.get(f"/archive/{period}")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert csp.startswith("default-src 'none'") and "script" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("host", ["evil.example", "news.example.org.evil.example", "127.0.0.2"])
def test_an_unknown_host_is_refused(app, host):
    with TestClient(app, base_url=f"https://{host}") as client:
        response = client.get("/login")
    assert response.status_code == 400 and "csrf_token" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("host", ["news.example.org", "localhost", "127.0.0.1"])
def test_the_base_url_host_and_local_development_are_served(app, host):
    with TestClient(app, base_url=f"https://{host}") as client:
        assert client.get("/login").status_code == 200


def test_allowed_hosts_replaces_the_default(conf, engine):
    app = create_app(conf.model_copy(update={"allowed_hosts": ["curator.internal"]}), engine)
    with TestClient(app, base_url="https://curator.internal") as client:
        assert client.get("/login").status_code == 200
    with TestClient(app, base_url="https://localhost") as client:
        assert client.get("/login").status_code == 400


def test_the_trailing_slash_redirect_is_built_from_base_url(app):
    with TestClient(app, base_url="http://localhost:9999") as client:
        response = client.get("/subscribe/?x=1", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "https://news.example.org/subscribe?x=1"


def test_no_page_breaks_the_policy_in_a_real_browser(conf, engine, serve, page):  # noqa: F811
    """Chromium reports every style or script the CSP blocks; there must be none."""
    pytest.importorskip("playwright")
    add_user(engine, "admin@example.org", "admin")
    base = serve(lambda url: create_app(conf.model_copy(update={"base_url": url}), engine))
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    for path in ["/", "/subscribe", "/login"]:
        page.goto(base + path)
    page.get_by_label("Email").fill("admin@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign in")).click()
    page.goto(base + "/ops")
    page.goto(base + "/desk")
    # The page is styled by the nonce'd stylesheet: the header bar has its dark background.
    background = page.eval_on_selector("header.top", "e => getComputedStyle(e).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    assert blocked == []
