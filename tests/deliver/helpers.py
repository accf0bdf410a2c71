"""Shared by the delivery tests: an approved issue, an audience, signed webhook posts."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Iterable

from sqlalchemy import Engine, insert, select

from curator import editorial
from curator.store.schema import feeds, items, now, picks, subscribers

PERIOD = "2026-05"
TOPICS = ("career", "software-engineering", "machine-learning", "leadership", "productivity", "learning")


def make_issue(engine: Engine, period: str = PERIOD, topics: Iterable[str] = TOPICS) -> int:
    """An approved issue with one approved pick per topic; returns its id."""
    with engine.begin() as conn:
        issue = editorial.ensure_issue(conn, period, "test")
        feed_id = conn.execute(
            insert(feeds).values(url=f"https://feeds.example.org/{period}.xml", title="Example Feed")
        ).inserted_primary_key[0]
        for rank, topic in enumerate(topics, 1):
            url = f"https://example.org/{period}/{topic}"
            item_id = conn.execute(
                insert(items).values(
                    feed_id=feed_id, guid=url, url=url, canonical_url=url, title=f"A good read on {topic}",
                    title_key=f"a good read on {topic}", summary_text=f"Why {topic} matters.", published_at=now(),
                )
            ).inserted_primary_key[0]
            conn.execute(
                insert(picks).values(
                    issue_id=issue["id"], item_id=item_id, topic=topic, rank=rank, decision="approved",
                    blurb=f"Our pick for {topic}.",
                )
            )
        editorial.transition(conn, period, "approved", "test")
    return issue["id"]


def topic_sets(count: int) -> list[list[str]]:
    """`count` distinct topic lists in feeds.yaml order (the variants of an audience)."""
    sets = [list(c) for r in (1, 2, 3) for c in itertools.combinations(TOPICS, r)]
    return sets[:count]


def add_audience(
    engine: Engine, count: int, *, variants: int = 3, status: str = "active", prefix: str = "reader"
) -> list[str]:
    """`count` subscribers spread over `variants` topic sets; returns their addresses."""
    sets = topic_sets(variants)
    rows = [
        {"email": f"{prefix}{i}@example.com", "name": f"Reader {i}" if i % 3 else "", "topics": sets[i % len(sets)],
         "status": status, "created_at": now(), "confirmed_at": now() if status == "active" else None,
         "source": "test"}
        for i in range(count)
    ]  # fmt: skip
    with engine.begin() as conn:
        if rows:
            conn.execute(insert(subscribers), rows)
    return [r["email"] for r in rows]


def active_emails(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(subscribers.c.email).where(subscribers.c.status == "active")).scalars())


class Signer:
    """SendGrid's side of the signed Event Webhook: an ECDSA P-256 key pair."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        self._key = ec.generate_private_key(ec.SECP256R1())
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()

    def headers(self, payload: bytes, timestamp: str | None = None) -> dict[str, str]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        timestamp = timestamp or str(int(time.time()))
        signature = self._key.sign(timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
            "Content-Type": "application/json",
        }


def processed_events(accepted) -> list[dict]:
    """SendGrid's `processed` events for messages the test server accepted (one per recipient)."""
    out = []
    for message in accepted:
        groups = [[t["email"] for t in p.get("to", [])] for p in message.body["personalizations"]]
        for recipients, args in zip(groups, message.custom_args, strict=True):
            for email in recipients:
                out.append({
                    "email": email, "event": "processed", "timestamp": int(time.time()),
                    "sg_event_id": f"processed-{message.message_id}-{email}", "sg_message_id": message.message_id,
                    **{k: v for k, v in args.items() if isinstance(v, str)},
                })  # fmt: skip
    return out


def dumps(events: list[dict]) -> bytes:
    return json.dumps(events).encode()
