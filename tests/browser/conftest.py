"""A real browser against a real server: the app under uvicorn on 127.0.0.1, Debian's headless Chromium.

The tests skip, saying why, when Chromium is not installed, except on CI (env CI set), where
they fail: there the browser is part of the contract.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest
import uvicorn

from tests.conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module; a fresh context (cookies) per test comes from `page`.

    Not per session: Playwright's sync API keeps an event loop running in this thread while it is
    open, and later tests that call asyncio.run() (ingest) would find it.
    """
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed: `apt-get install chromium` runs the browser tests"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def _page_in_new_context(browser, **options):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", **options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


@pytest.fixture
def page(browser):
    context, page = _page_in_new_context(browser)
    yield page
    context.close()


@pytest.fixture
def axe_page(browser):
    """As `page`, but axe's injected (inline) script may run: only this test context bypasses the pages' CSP.

    tests/security/test_headers_hosts.py checks the real policy in Chromium, without the bypass.
    """
    context, page = _page_in_new_context(browser, bypass_csp=True)
    yield page
    context.close()


@pytest.fixture
def free_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.fixture
def serve(free_socket):
    """serve(app_factory) -> base URL: runs the app made for that URL under uvicorn in a thread."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(factory) -> str:
        base = f"http://127.0.0.1:{free_socket.getsockname()[1]}"
        config = uvicorn.Config(factory(base), log_level="warning", lifespan="on", ws="none", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [free_socket]}, daemon=True)
        thread.start()
        servers.append((server, thread))
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        assert server.started, "uvicorn did not start"
        return base

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
