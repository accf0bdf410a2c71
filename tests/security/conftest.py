"""The attacks of issue 10, one file per attack; every test asserts the refusal.

Fixtures: an app on the test database with a 32+ character secret, a client that reaches
it as https://news.example.org (BASE_URL), and `sign_in`, which goes through the form.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from curator.web import create_app
from tests import newsroom
from tests.deliver.conftest import issue, sg, sg_settings  # noqa: F401  (the delivery fixtures, shared here)

SECRET = "security-suite-secret-key-0123456789abcdef"
PASSWORD = newsroom.PASSWORD
HOST = "https://news.example.org"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def conf(settings, tmp_path):
    return settings.model_copy(update={"secret_key": SECRET, "feeds": newsroom.write_feeds_yaml(tmp_path)})


@pytest.fixture
def app(conf, engine):
    return create_app(conf, engine)


@pytest.fixture
def client(app):
    with TestClient(app, base_url=HOST) as client:
        yield client


def csrf(client, path: str = "/login") -> str:
    page = client.get(path)
    found = TOKEN.search(page.text)
    assert found, (path, page.status_code, page.text[:500])
    return found.group(1)


def post(client, path: str, data: dict, token: str | None = None, **kw):
    body = dict(data)
    if token is not None:
        body["csrf_token"] = token
    return client.post(path, data=body, follow_redirects=False, **kw)


def add_user(engine, email: str, role: str = "editor") -> dict:
    with engine.begin() as conn:
        return newsroom.add_user(conn, email, role)


def sign_in(client, email: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the CSRF token of the signed-in pages."""
    response = post(client, "/login", {"email": email, "password": password, "next": ""}, csrf(client))
    assert response.status_code == 303, response.text
    home = response.headers["location"]
    return csrf(client, home)
