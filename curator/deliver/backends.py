"""What delivery needs from a provider: the Backend protocol, and the messages it carries.

Delivery owns this interface; SendGrid (and its sandbox) and the outbox fit behind it. A
backend never retries and never raises for a provider's answer: it reports an `Outcome`
and the worker decides (retry, split, stop, reconcile). Which backend a send uses is chosen in
`deliver.choice`: this module imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple, Protocol

LIST_UNSUBSCRIBE_POST = "List-Unsubscribe=One-Click"


class Outcome(Enum):
    ACCEPTED = "accepted"  # 200/202: the provider took every recipient
    REJECTED = "rejected"  # 400: permanent for these recipients; `error` says why
    UNAUTHORIZED = "unauthorized"  # 401/403: the key is refused; the whole send stops
    TOO_LARGE = "too_large"  # 413: split the batch and try the halves
    RATE_LIMITED = "rate_limited"  # 429: wait until `retry_at`, lower the shared rate
    RETRY = "retry"  # 5xx, or a connection that never reached the provider: try again later
    UNCERTAIN = "uncertain"  # the request went out and no answer came back: it may have been taken


class Recipient(NamedTuple):
    """One person in a batch, with the values their copy is personalized with (a tuple: made by the thousand)."""

    delivery_id: int
    email: str
    name: str
    values: dict[str, str]  # substitution tag -> value (name, unsubscribe and preference URLs)
    unsubscribe_url: str  # literal, for the List-Unsubscribe header (never substituted)


class Body(Protocol):
    """A rendered variant (render.Rendered): substitution tags still in it."""

    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class BatchMessage:
    """One body for many recipients: the same variant of one issue, under one batch key."""

    issue: str  # the period, e.g. 2026-05: SendGrid's custom_args and the outbox's file names
    batch_key: str
    body: Body  # personalized per recipient: by SendGrid's substitutions, or by the outbox
    recipients: list[Recipient]


@dataclass(frozen=True)
class SingleMessage:
    """A transactional email: a confirmation link, a test copy of the issue."""

    to: str
    subject: str
    html: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchResult:
    outcome: Outcome
    status: int | None = None  # the HTTP status, when there was one
    message_id: str | None = None
    error: str | None = None
    retry_at: float | None = None  # epoch seconds, for RATE_LIMITED


class Backend(Protocol):
    """Sends messages somewhere: SendGrid, its sandbox, or a folder of .eml files."""

    name: str

    def send_batch(self, message: BatchMessage) -> BatchResult: ...

    def send_one(self, message: SingleMessage) -> BatchResult: ...

    def close(self) -> None: ...

