"""Workers killed with SIGKILL at random moments, then started again: each subscriber gets the issue once.

The SendGrid test server loses answers (it takes the message, then drops the connection)
and answers slowly, to widen the window in which a worker dies between its request and
its record. A thread plays SendGrid's Event Webhook: it posts signed `processed` events for
every message the server took, which is how uncertain batches are reconciled
(the README's "The delivery guarantee").
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from curator.store.schema import deliveries, issues, send_batches
from curator.testing.sendgrid_server import Faults, SendGridServer
from curator.web.app import create_app
from tests.deliver.crash_env import start_worker, worker_env
from tests.deliver.helpers import PERIOD, Signer, add_audience, dumps, processed_events

pytestmark = pytest.mark.slow


class EventFeeder(threading.Thread):
    """SendGrid's Event Webhook: `processed` events for what the server took, posted signed, promptly."""

    def __init__(self, settings, engine, sg: SendGridServer) -> None:
        super().__init__(name="event-feeder", daemon=True)
        self.signer = Signer()
        self.app = create_app(settings.model_copy(update={"sendgrid_webhook_public_key": self.signer.public_key}),
                              engine)  # fmt: skip
        self.sg, self.done, self.posted, self.error = sg, threading.Event(), 0, None

    def run(self) -> None:
        try:
            with TestClient(self.app, base_url=self.app.state.settings.base_url) as client:
                while not self.done.wait(0.05):
                    self.feed(client)
                self.feed(client)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def feed(self, client) -> None:
        fresh = self.sg.accepted[self.posted:]
        if fresh:
            payload = dumps(processed_events(fresh))
            assert client.post("/webhooks/sendgrid", content=payload, headers=self.signer.headers(payload)).is_success
            self.posted += len(fresh)

    def stop(self) -> None:
        self.done.set()
        self.join()
        assert self.error is None, self.error


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_workers_leave_no_duplicate_and_no_one_out(settings, engine, issue, tmp_path, seed):
    from curator import deliver

    audience = add_audience(engine, 600, variants=4)
    deliver.start(engine, PERIOD, "test")
    rng = random.Random(seed)
    faults = Faults(fail_rate=0.3, kinds=("lost", "slow", "500"), seed=seed, slow_s=0.3)
    with SendGridServer(validate=True, faults=faults) as sg:
        feeder = EventFeeder(settings, engine, sg)
        feeder.start()
        env = worker_env(settings, sg.url)
        with open(tmp_path / "workers.log", "wb") as log:
            for _ in range(4):
                worker = start_worker(env, log)
                try:
                    worker.wait(timeout=rng.uniform(0.8, 2.5))  # imports take most of a second
                except subprocess.TimeoutExpired:
                    worker.send_signal(signal.SIGKILL)
                    worker.wait()
            last = start_worker(env, log)
            assert last.wait(timeout=120) == 0, (tmp_path / "workers.log").read_text()
        feeder.stop()
        recipients, duplicates, stats = sg.recipients(), sg.duplicates(), sg.stats()
    assert stats["status_counts"].get("lost", 0) > 0  # the faults did happen
    assert duplicates == {}
    assert sorted(recipients) == sorted(audience)
    with engine.connect() as conn:
        assert conn.execute(select(issues.c.status)).scalar() == "sent"
        states = dict(conn.execute(select(deliveries.c.state, func.count()).group_by(deliveries.c.state)).all())
        reconciled = conn.execute(
            select(func.count()).where(send_batches.c.state == "accepted", send_batches.c.error.like("confirmed%"))
        ).scalar_one()
    assert states == {"sent": 600}
    assert reconciled > 0  # lost answers left batches uncertain; SendGrid's events settled them
