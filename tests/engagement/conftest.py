"""Fixtures of the engagement tests: an issue sent through the SendGrid test server, its links per reader."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from curator import deliver
from curator.store.schema import deliveries, now
from curator.testing.sendgrid_server import SendGridServer
from curator.web.app import create_app
from tests.deliver.helpers import PERIOD, Signer, add_audience, make_issue

HUMAN_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
SCANNER_AGENT = "Mozilla/5.0 (compatible; Mimecast URL Protect)"


@dataclass
class Copy:
    """One reader's email as SendGrid would deliver it: the substituted HTML and its pick links."""

    email: str
    delivery_id: int
    html: str
    text: str

    def links(self, kind: str) -> list[str]:
        """The copy's pick links of one kind: "r" (tracked article links) or "f" (feedback)."""
        found = re.findall(rf'href="(https://news\.example\.org/{kind}/[^"]+)"', self.html)
        return list(dict.fromkeys(found))

    def path(self, url: str) -> str:
        return url.removeprefix("https://news.example.org")


@pytest.fixture
def sg():
    with SendGridServer(validate=True, api_key="SG.test") as server:
        yield server


@pytest.fixture
def signer():
    return Signer()


@pytest.fixture
def sg_settings(settings, sg, signer):
    return settings.model_copy(
        update={
            "delivery": "sendgrid", "sendgrid_api_key": "SG.test", "sendgrid_host": sg.url, "sendgrid_timeout": 5.0,
            "send_retry_base_seconds": 0.01, "send_retry_max_seconds": 0.05, "send_poll_seconds": 0.05,
            "send_rate_requests": 10_000.0, "send_rate_recipients": 10_000_000.0,
            "sendgrid_webhook_public_key": signer.public_key,
        }
    )  # fmt: skip


def _filler(values: dict[str, str]):
    pattern = re.compile("|".join(re.escape(k) for k in sorted(values, key=len, reverse=True)))
    return lambda text: pattern.sub(lambda m: values[m.group(0)], text)


def copies(sg) -> dict[str, Copy]:
    """Every accepted recipient's copy, substituted as SendGrid substitutes it."""
    out = {}
    for message in sg.accepted:
        text, html = (part["value"] for part in message.body["content"])
        for p in message.body["personalizations"]:
            email = p["to"][0]["email"]
            fill = _filler(p["substitutions"])
            out[email] = Copy(email, int(p["custom_args"]["delivery"]), fill(html), fill(text))
    return out


def send(sg_settings, engine, sg, readers: int = 3, variants: int = 1) -> dict[str, Copy]:
    """An approved issue (six picks) sent to `readers` people through the test server."""
    make_issue(engine)
    add_audience(engine, readers, variants=variants)
    deliver.start(engine, PERIOD, "test")
    deliver.Worker(sg_settings, engine).run()
    return copies(sg)


def age_deliveries(engine, hours: float = 1.0) -> None:
    """As if the send went out `hours` ago: clicks now are past the scanners' first seconds."""
    with engine.begin() as conn:
        conn.execute(update(deliveries).values(sent_at=now() - timedelta(hours=hours)))


def sent_at(engine, delivery_id: int):
    with engine.connect() as conn:
        return conn.execute(select(deliveries.c.sent_at).where(deliveries.c.id == delivery_id)).scalar_one()


@pytest.fixture
def client(sg_settings, engine):
    with TestClient(create_app(sg_settings, engine), base_url=sg_settings.base_url, follow_redirects=False) as client:
        yield client
