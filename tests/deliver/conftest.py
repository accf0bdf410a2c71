"""Fixtures of the delivery tests: an approved issue, a SendGrid test server, settings that use it."""

from __future__ import annotations

import pytest

from curator.testing.sendgrid_server import SendGridServer
from tests.deliver.helpers import make_issue


@pytest.fixture
def issue(engine) -> int:
    return make_issue(engine)


@pytest.fixture
def sg():
    with SendGridServer(validate=True, api_key="SG.test") as server:
        yield server


@pytest.fixture
def sg_settings(settings, sg):
    """Settings that send through the test server, with short waits."""
    return settings.model_copy(
        update={
            "delivery": "sendgrid", "sendgrid_api_key": "SG.test", "sendgrid_host": sg.url, "sendgrid_timeout": 5.0,
            "send_retry_base_seconds": 0.01, "send_retry_max_seconds": 0.05, "send_poll_seconds": 0.05,
            "send_reconcile_seconds": 0.0, "send_rate_requests": 10_000.0, "send_rate_recipients": 10_000_000.0,
        }
    )
