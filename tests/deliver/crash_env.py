"""How the multi-process tests start `curator worker`: settings through the environment, as in production."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO
from tests.deliver.helpers import PERIOD


def worker_env(settings, sg_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "CURATOR_DATABASE_URL": settings.database_url, "CURATOR_SECRET_KEY": settings.secret_key,
        "CURATOR_FEEDS": str(settings.feeds), "CURATOR_BASE_URL": settings.base_url,
        "CURATOR_DELIVERY": "sendgrid", "CURATOR_SENDGRID_API_KEY": "SG.test", "CURATOR_SENDGRID_HOST": sg_url,
        "CURATOR_SENDGRID_TIMEOUT": "1.5", "CURATOR_SEND_LEASE_SECONDS": "2", "CURATOR_SEND_RECONCILE_SECONDS": "1.5",
        "CURATOR_SEND_BATCH_SIZE": "25", "CURATOR_SEND_POLL_SECONDS": "0.1", "CURATOR_SEND_MAX_ATTEMPTS": "10",
        "CURATOR_SEND_RETRY_BASE_SECONDS": "0.05", "CURATOR_SEND_RETRY_MAX_SECONDS": "0.2",
        "CURATOR_SEND_RATE_REQUESTS": "1000",
    }  # fmt: skip
    env.update(extra)
    return env


def start_worker(env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "curator", "worker", "--period", PERIOD], env=env, cwd=REPO,
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
