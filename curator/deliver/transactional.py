"""One email at a time, through the configured backend: confirmations and test copies of an issue."""

from __future__ import annotations

from sqlalchemy import Engine

from curator import editorial, render
from curator.config import Settings
from curator.deliver.backends import Outcome, SingleMessage
from curator.deliver.choice import make_backend
from curator.deliver.links import require_secure_links
from curator.errors import DeliveryError
from curator.subscribers import normalize_email

TEST_PREFIX = "[TEST] "
TEST_SUBSCRIBER_ID = 0  # the subscriber a test copy's links name: nobody


def send_transactional(
    settings: Settings, *, to: str, subject: str, html: str, text: str, headers: dict[str, str] | None = None
) -> str | None:
    """Send one email now; returns the provider's message id, or raises DeliveryError saying why not."""
    backend = make_backend(settings)
    try:
        result = backend.send_one(SingleMessage(to, subject, html, text, dict(headers or {})))
    finally:
        backend.close()
    if result.outcome is Outcome.ACCEPTED:
        return result.message_id
    if result.outcome is Outcome.UNAUTHORIZED:
        raise DeliveryError(f"SendGrid refused the API key ({result.status}): check CURATOR_SENDGRID_API_KEY")
    if result.outcome is Outcome.UNCERTAIN:
        raise DeliveryError(f"the email to {to} may or may not have gone out ({result.error}); check before resending")
    raise DeliveryError(f"the email to {to} was not sent: {result.error or result.outcome.value}; try again later")


def send_test(
    settings: Settings, engine: Engine, period: str, to_email: str, topics: list[str] | None = None, actor: str = ""
) -> str:
    """Send one copy of the issue (approved picks, or suggested ones before approval) marked [TEST]; no ledger.

    `topics` is the topic set it is rendered for (None: every topic, feeds.yaml order). The copy's
    links name subscriber 0, whoever it goes to: following its unsubscribe link opens a page that
    says it is a test copy, and never unsubscribes the editor who clicked it to check. The send
    is in the audit log. Returns the address it went to.
    """
    from curator.sources import load_sources

    address = normalize_email(to_email)
    require_secure_links(settings, engine, settings.delivery)  # the copy carries the same unsubscribe link
    known = [(t.name, t.title) for t in load_sources(settings.feeds).topics]
    with engine.connect() as conn:
        issue = editorial.get_issue(conn, period)
        draft = issue["status"] in ("draft", "in_review")
        content = editorial.issue_content(conn, period, known, include_suggested=draft)
    person = {"id": TEST_SUBSCRIBER_ID, "email": address, "name": ""}
    body = render.render_variant(content, topics or [], settings)
    # Delivery 0: the copy's pick links work and count nothing.
    copy = render.personalize(body, render.recipient_values(settings, person, pick_links=bool(content.pick_ids())))
    send_transactional(
        settings, to=address, subject=TEST_PREFIX + copy.subject, html=copy.html, text=copy.text,
        headers=render.list_unsubscribe_headers(settings, person),
    )  # fmt: skip
    with engine.begin() as conn:
        shown = ", ".join(topics) if topics else "every topic"
        editorial.audit(conn, actor or address, "issue.test_send", period, f"to {address} ({shown})")
    return address
