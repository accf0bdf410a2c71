"""Ops, in headless Chromium: sign in, send a test, start the send, pause it, resume it, watch it finish.

The web app only starts and steers the send; a real `curator worker` subprocess delivers
it (outbox backend), as in production. The page follows it by polling its JSON endpoint.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from curator import users
from curator.store.schema import deliveries
from curator.web import create_app
from tests.conftest import REPO
from tests.deliver.helpers import PERIOD, add_audience, make_issue

pytestmark = pytest.mark.browser
EMAIL, PASSWORD = "ops@example.org", "correct horse battery"
AUDIENCE = 25
SEEDS = ["seed1@example.com", "seed2@example.com"]


@pytest.fixture
def conf(settings):
    return settings.model_copy(update={"seed_list": SEEDS, "send_batch_size": 5, "send_poll_seconds": 0.2})


@pytest.fixture
def ops_url(conf, engine, serve):
    make_issue(engine)
    add_audience(engine, AUDIENCE)
    with engine.begin() as conn:
        users.add_user(conn, EMAIL, "ops", PASSWORD)
    return serve(lambda base: create_app(conf.model_copy(update={"base_url": base}), engine))


def worker(conf) -> subprocess.Popen:
    """`curator worker --period PERIOD`, configured like the web app, as a separate process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURATOR_")}
    env |= {
        "CURATOR_DATABASE_URL": conf.database_url, "CURATOR_OUTBOX_DIR": str(conf.outbox_dir),
        "CURATOR_SECRET_KEY": conf.secret_key, "CURATOR_BASE_URL": conf.base_url, "CURATOR_FEEDS": str(conf.feeds),
        "CURATOR_SEND_BATCH_SIZE": "5", "CURATOR_SEND_POLL_SECONDS": "0.2",
    }
    return subprocess.Popen([sys.executable, "-m", "curator", "worker", "--period", PERIOD], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def outbox(conf) -> dict[str, str]:
    found = {}
    for path in sorted(conf.outbox_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found[message["To"]] = message["Subject"]
    return found


def test_ops_send_a_test_start_the_send_and_watch_it_finish(page, ops_url, conf, engine, artifacts):
    from playwright.sync_api import expect

    shot = lambda name: page.screenshot(path=str(artifacts / f"ops-{name}.png"), full_page=True)  # noqa: E731
    counts = lambda state: page.locator(f"#count-{state}")  # noqa: E731

    page.goto(ops_url + "/ops")
    expect(page).to_have_url(re.compile(r"/login\?next=/ops$"))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Ops console")).to_be_visible()
    expect(page.get_by_text("day=1st tue hour=9 minute=0")).to_be_visible()
    shot("1-overview")

    # A test to the seed list: two [TEST] copies, nothing in the ledger.
    page.get_by_role("link", name="May 2026").click()
    page.get_by_role("button", name="Send a test to the seed list").click()
    expect(page.locator(".flash.success")).to_contain_text("Sent a test copy of 2026-05 to the seed list")
    assert sorted(outbox(conf)) == SEEDS and all(s.startswith("[TEST] ") for s in outbox(conf).values())
    shot("2-test-sent")

    # Send now: the confirmation shows the audience, then the send starts and waits for a worker.
    page.get_by_role("link", name="Send now…").click()
    expect(page.locator("#audience")).to_have_text(str(AUDIENCE))
    shot("3-confirm")
    page.get_by_role("button", name=f"Send to {AUDIENCE} subscribers").click()
    expect(page.locator(".flash.success")).to_contain_text(f"to {AUDIENCE} recipients")
    expect(page.locator("#status")).to_have_text("sending")
    expect(counts("pending")).to_have_text(str(AUDIENCE))
    expect(page.locator("#hint")).to_contain_text("Waiting for a worker")
    shot("4-started")

    # Paused before the worker starts: it waits, claiming nothing.
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#status")).to_have_text("paused")
    process = worker(conf)
    try:
        expect(page.locator("#hint")).to_contain_text("Paused")
        shot("5-paused")
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).where(deliveries.c.state == "sent")).scalar_one() == 0

        # Resume: the worker sends every batch, the page follows it to the end by itself.
        page.get_by_role("button", name="Resume").click()
        expect(page.locator("#status")).to_have_text("sent", timeout=60_000)
        expect(counts("sent")).to_have_text(str(AUDIENCE))
        expect(counts("pending")).to_have_text("0")
        expect(page.locator("#left-line")).to_be_hidden()  # a finished send never says "time left done"
        expect(page.locator("#finished_text")).to_contain_text("UTC")
        shot("6-sent")
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert f"finished {PERIOD}" in output
    sent = {to: subject for to, subject in outbox(conf).items() if to not in SEEDS}
    assert len(sent) == AUDIENCE and not any(s.startswith("[TEST]") for s in sent.values())
