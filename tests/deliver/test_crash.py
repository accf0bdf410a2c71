"""Workers killed with SIGKILL at random moments, then started again: each subscriber gets the issue once.

The SendGrid test server loses answers (it takes the message, then drops the connection)
and answers slowly, to widen the window in which a worker dies between its request and
its record. It also plays SendGrid's Event Webhook: it posts the signed `processed` events
of every message it takes, which is how uncertain batches are reconciled (the README's
"The delivery guarantee").

It posts them before it answers (or drops the answer). The guarantee is "exactly once when
the events arrive before CURATOR_SEND_RECONCILE_SECONDS"; a relay thread that polled the
server was now and then later than the test's 1.5 seconds on a busy machine, and the batch
was resent as designed. Posting first makes "the events arrived in time" true by
construction, so a duplicate here is always a bug in the ledger or the worker.
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


class SendGridWithWebhook(SendGridServer):
    """The test server, and SendGrid's Event Webhook posting to the app before each answer."""

    def __init__(self, client: TestClient, signer: Signer, **kwargs) -> None:
        super().__init__(**kwargs)
        self.client, self.signer, self.posted, self.errors = client, signer, 0, []
        self._relay = threading.Lock()

    def handle_send(self, authorization: str | None, raw: bytes | None):
        reply = super().handle_send(authorization, raw)
        with self._relay:  # the messages taken so far, this one included, get their events before the answer
            fresh = self.accepted[self.posted:]
            if fresh:
                payload = dumps(processed_events(fresh))
                response = self.client.post("/webhooks/sendgrid", content=payload, headers=self.signer.headers(payload))
                if not response.is_success:  # raised here, it would only drop the connection: the test reports it
                    self.errors.append(f"{response.status_code} {response.text}")
                self.posted += len(fresh)
        return reply


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_workers_leave_no_duplicate_and_no_one_out(settings, engine, issue, tmp_path, seed):
    from curator import deliver

    audience = add_audience(engine, 600, variants=4)
    deliver.start(engine, PERIOD, "test")
    rng = random.Random(seed)
    faults = Faults(fail_rate=0.3, kinds=("lost", "slow", "500"), seed=seed, slow_s=0.3)
    signer = Signer()
    app = create_app(settings.model_copy(update={"sendgrid_webhook_public_key": signer.public_key}), engine)
    with TestClient(app, base_url=settings.base_url) as client, \
            SendGridWithWebhook(client, signer, validate=True, faults=faults) as sg:
        # A live worker whose answer takes longer than the lease is taken for dead: 5 s and 10 s keep
        # that for killed workers even on a busy machine, and a killed one's batch waits only 11.5 s.
        env = worker_env(settings, sg.url, CURATOR_SENDGRID_TIMEOUT="5", CURATOR_SEND_LEASE_SECONDS="10")
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
        recipients, duplicates, stats = sg.recipients(), sg.duplicates(), sg.stats()
    assert sg.errors == []
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
    assert reconciled > 0  # SendGrid's events settled the batches it took, those whose answer was lost too
