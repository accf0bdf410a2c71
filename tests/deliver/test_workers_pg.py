"""Several workers on one PostgreSQL: no row is ever claimed twice, nobody gets the issue twice."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import func, select

from curator import store
from curator.config import Settings
from curator.store.schema import deliveries, issues, send_batches
from curator.testing.sendgrid_server import SendGridServer
from tests.conftest import REPO
from tests.deliver.crash_env import worker_env
from tests.deliver.helpers import PERIOD, add_audience, make_issue

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_engine(pg_url):
    engine = store.make_engine(pg_url)
    yield engine
    engine.dispose()


def test_four_workers_never_claim_the_same_row(pg_url, pg_engine, tmp_path, settings):
    make_issue(pg_engine)
    audience = add_audience(pg_engine, 6000, variants=6)
    pg_settings = Settings(**{**settings.model_dump(), "database_url": pg_url})
    with SendGridServer(validate=True) as sg:
        # A shared rate of 25 requests/s spreads the 60 batches over a few seconds: every worker gets some.
        # Nobody is killed here, so the default timeout, lease and reconcile wait: with the crash test's
        # 1.5 s and 2 s, a worker starved on a busy machine was taken for dead and its batch resent.
        env = worker_env(
            pg_settings, sg.url, CURATOR_SEND_BATCH_SIZE="100", CURATOR_SEND_RATE_REQUESTS="25",
            CURATOR_SENDGRID_TIMEOUT="30", CURATOR_SEND_LEASE_SECONDS="300", CURATOR_SEND_RECONCILE_SECONDS="600",
        )
        done = subprocess.run(
            [sys.executable, "-m", "curator", "send", PERIOD, "--workers", "4", "--yes"], env=env, cwd=REPO,
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        recipients, duplicates = sg.recipients(), sg.duplicates()
    assert duplicates == {}
    assert sorted(recipients) == sorted(audience)
    with pg_engine.connect() as conn:
        assert conn.execute(select(issues.c.status)).scalar() == "sent"
        # Each row was claimed exactly once: one claim, one batch, and every batch holds what it claimed.
        assert conn.execute(select(func.min(deliveries.c.attempts), func.max(deliveries.c.attempts))).one() == (1, 1)
        batches = conn.execute(select(send_batches.c.key, send_batches.c.size, send_batches.c.worker)).all()
        held = dict(conn.execute(select(deliveries.c.batch_key, func.count()).group_by(deliveries.c.batch_key)).all())
    assert sum(size for _, size, _ in batches) == 6000
    assert all(held[key] == size for key, size, _ in batches)
    assert len({worker.split(":")[1] for _, _, worker in batches}) > 1  # more than one process took batches
