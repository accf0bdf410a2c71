"""Tables. Unique constraints carry the invariants; CHECKs carry the status sets."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ISSUE_STATUSES = ("draft", "in_review", "approved", "sending", "paused", "sent", "cancelled")
PICK_DECISIONS = ("suggested", "approved", "rejected")
SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained")
LEDGER_STATES = ("pending", "inflight", "sent", "failed", "uncertain", "cancelled", "skipped")
BATCH_STATES = ("inflight", "accepted", "failed", "uncertain", "resent", "abandoned")
ROLES = ("editor", "ops", "admin")


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database (SQLite keeps naive text)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", String(2048), nullable=False, unique=True),
    # The address as feeds.yaml writes it; `url` is where it is fetched now (a 301 moves it).
    Column("source_url", String(2048), unique=True),
    Column("title", String(500)),
    Column("site_url", String(2048)),
    Column("topics", JSON, nullable=False, default=list),
    Column("weight", Float, nullable=False, default=1.0),
    Column("etag", String(500)),
    Column("last_modified", String(100)),
    Column("last_fetch_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("next_fetch_at", UTCDateTime),
    Column("last_status", String(20)),
    Column("http_status", Integer),
    Column("consecutive_errors", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False, default=now),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feed_id", ForeignKey("feeds.id", ondelete="SET NULL")),
    Column("guid", String(2048)),
    Column("url", String(2048), nullable=False),
    Column("canonical_url", String(2048), nullable=False, unique=True),
    Column("title", String(1000), nullable=False, default=""),
    Column("title_key", String(1000), nullable=False, default="", index=True),
    Column("summary_html", Text, nullable=False, default=""),
    Column("summary_text", Text, nullable=False, default=""),
    Column("author", String(500)),
    Column("published_at", UTCDateTime, nullable=False, index=True),
    Column("first_seen_at", UTCDateTime, nullable=False, default=now),
    Column("manual", Boolean, nullable=False, default=False),
    # The item's meaning as a unit vector (curator.embed), computed once at ingest; NULL before 0005.
    Column("embedding", LargeBinary),
    # Its page kind (curator/pagekind.py), also worked out once at ingest, with the version that did it.
    Column("kind", String(20)),
    Column("kind_confidence", Float),
    Column("kind_value", Float),
    Column("kind_version", String(64)),
    # Words of the article page's main text (curator/ingest/article.py), read for candidates only.
    Column("word_count", Integer),
    UniqueConstraint("feed_id", "guid", name="uq_items_feed_guid"),
)

# Every feed an item was seen in: near-duplicates across feeds become one item.
item_sources = Table(
    "item_sources",
    metadata,
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("feed_id", ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("url", String(2048), nullable=False),
    Index("ix_item_sources_feed", "feed_id"),
)

item_scores = Table(
    "item_scores",
    metadata,
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("topic", String(100), primary_key=True),
    Column("score", Float, nullable=False),
    Column("parts", JSON, nullable=False),
)

# Editors' taste (curator/curate/taste.py): one row per training, the newest in use.
taste_models = Table(
    "taste_models",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("trained_at", UTCDateTime, nullable=False, default=now),
    Column("fingerprint", String(64), nullable=False),  # of the decisions it learned from
    Column("decisions", Integer, nullable=False, default=0),
    Column("model", LargeBinary),  # NULL while there are too few decisions to learn from
)

issues = Table(
    "issues",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("period", String(7), nullable=False, unique=True),
    Column("status", String(20), nullable=False, default="draft"),
    Column("subject", String(300), nullable=False, default=""),
    Column("preheader", String(300), nullable=False, default=""),
    Column("intro", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False, default=now),
    Column("updated_at", UTCDateTime, nullable=False, default=now),
    Column("approved_at", UTCDateTime),
    Column("approved_by", String(320)),
    Column("send_started_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    CheckConstraint(_in("status", ISSUE_STATUSES), name="status"),
)

picks = Table(
    "picks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("issue_id", ForeignKey("issues.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("topic", String(100), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("score", Float, nullable=False, default=0.0),
    Column("parts", JSON, nullable=False, default=dict),
    Column("decision", String(20), nullable=False, default="suggested"),
    Column("blurb", Text, nullable=False, default=""),
    Column("decided_by", String(320)),
    Column("decided_at", UTCDateTime),
    # An editor's own title and summary for this issue; NULL shows the item's (the original, kept).
    Column("title", String(1000)),
    Column("summary", Text),
    # At the top of the issue, before every topic; at most one per issue (a partial unique index).
    Column("featured", Boolean, nullable=False, default=False, server_default="0"),
    # When the pick joined the issue: the desk marks those new since an editor's last visit.
    Column("created_at", UTCDateTime, default=now),
    UniqueConstraint("issue_id", "item_id", name="uq_picks_issue_item"),
    CheckConstraint(_in("decision", PICK_DECISIONS), name="decision"),
    Index("uq_picks_featured", "issue_id", unique=True, sqlite_where=text("featured"),
          postgresql_where=text("featured")),
)

# The last time each editor opened each issue in the desk ("new since your last visit").
desk_visits = Table(
    "desk_visits",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
)

FETCH_STATES = ("running", "done", "failed")

# "Fetch feeds now" from the desk: a run's progress, read by whichever web process the editor polls.
fetch_runs = Table(
    "fetch_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("period", String(7), nullable=False),
    Column("started_by", String(320), nullable=False),
    Column("started_at", UTCDateTime, nullable=False, default=now),
    Column("finished_at", UTCDateTime),
    Column("state", String(20), nullable=False, default="running"),
    Column("feeds_total", Integer, nullable=False, default=0),
    Column("feeds_done", Integer, nullable=False, default=0),
    Column("new_items", Integer, nullable=False, default=0),
    Column("new_picks", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("message", Text, nullable=False, default=""),
    CheckConstraint(_in("state", FETCH_STATES), name="state"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False, default=now, index=True),
    Column("actor", String(320), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", String(300), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False, default=""),
    Column("topics", JSON, nullable=False, default=list),
    Column("status", String(20), nullable=False, default="pending"),
    Column("created_at", UTCDateTime, nullable=False, default=now),
    Column("confirmed_at", UTCDateTime),
    Column("unsubscribed_at", UTCDateTime),
    Column("source", String(50), nullable=False, default="cli"),
    # The current subscription attempt: its confirm link names it, so an earlier attempt's link stops working.
    Column("confirm_nonce", String(32)),
    # "only my topics": the email carries their topics alone instead of all topics, theirs first.
    Column("only_my_topics", Boolean, nullable=False, default=False, server_default=false()),
    # An address change waits here until the new address confirms it.
    Column("new_email", String(320)),
    Column("unsubscribe_reason", String(200)),
    Column("welcomed_at", UTCDateTime),
    CheckConstraint(_in("status", SUBSCRIBER_STATUSES), name="status"),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("reason", String(50), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False, default=now),
)

# The send ledger: one row per (issue, subscriber), frozen when a send starts.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    # No foreign keys (migration 0009): the freeze, their only writer, copies ids it reads in the
    # same statement, and a trigger per row checking them took 40% of a million-row freeze.
    # Erasing a subscriber empties subscriber_id itself (subscribers._privacy); nothing deletes an issue.
    Column("issue_id", Integer, nullable=False),
    Column("subscriber_id", Integer),
    Column("email", String(320), nullable=False),
    Column("name", String(200), nullable=False, default=""),
    Column("variant", String(500), nullable=False, default=""),
    Column("state", String(20), nullable=False, default="pending"),
    Column("batch_key", String(64)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("sent_at", UTCDateTime),
    UniqueConstraint("issue_id", "subscriber_id", name="uq_deliveries_issue_subscriber"),
    CheckConstraint(_in("state", LEDGER_STATES), name="state"),
    # The claim's scan: the next pending rows of one variant, in id order, straight from the index.
    # It also serves every (issue_id, state) lookup, and a batch's rows (found among its issue's
    # open rows): any other index would be one more entry written at each of a row's state changes.
    Index("ix_deliveries_claim", "issue_id", "state", "variant", "id"),
)

send_batches = Table(
    "send_batches",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("issue_id", ForeignKey("issues.id", ondelete="CASCADE"), nullable=False),
    Column("variant", String(500), nullable=False, default=""),
    Column("worker", String(200), nullable=False, default=""),
    Column("state", String(20), nullable=False, default="inflight"),
    Column("size", Integer, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_at", UTCDateTime, nullable=False, default=now),
    Column("lease_until", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("response_status", Integer),
    Column("message_id", String(200)),
    Column("error", Text),
    CheckConstraint(_in("state", BATCH_STATES), name="state"),
    Index("ix_send_batches_issue_state", "issue_id", "state"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sg_event_id", String(200), nullable=False, unique=True),
    Column("event", String(50), nullable=False),
    Column("email", String(320), nullable=False, default=""),
    Column("issue_id", Integer, index=True),
    Column("batch_key", String(64), index=True),
    Column("occurred_at", UTCDateTime),
    Column("received_at", UTCDateTime, nullable=False, default=now),
    Column("payload", JSON, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(300), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=now),
    Column("last_login_at", UTCDateTime),
    Column("disabled", Boolean, nullable=False, default=False, server_default=false()),
    CheckConstraint(_in("role", ROLES), name="role"),
)

# Sign-in sessions live on the server: the cookie carries only the id, so logout, a password or
# role change, and disabling the user end them for good.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False, default=now),
    Column("last_seen_at", UTCDateTime, nullable=False, default=now),
    Column("revoked_at", UTCDateTime),
)

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(400), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False, default=now),
    Column("ok", Boolean, nullable=False, default=False),
)

# Shared state of all workers and schedulers: rate limits and the leader lock.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("tat", Float, nullable=False, default=0.0),
    Column("rate", Float, nullable=False),
)

# Fixed-window counters (curator.ratelimit): abuse limits that hold across processes and machines.
rate_counters = Table(
    "rate_counters",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("window_start", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("hits", Integer, nullable=False),
    Column("expires_at", BigInteger().with_variant(Integer, "sqlite"), nullable=False, index=True),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False, default=now, index=True),
    Column("kind", String(50), nullable=False),
    Column("period", String(7)),
    Column("message", Text, nullable=False),
    Column("acknowledged", Boolean, nullable=False, default=False),
)

# Readers' engagement (issue 12). One row per request on a pick's tracked link (/r/TOKEN),
# or per SendGrid click event on an untracked one; `human` is the classification, `reason`
# says why a click counts as a machine's. Raw rows are folded into click_totals and deleted
# after `click_retention_days`.
CLICK_SOURCES = ("redirect", "sendgrid")

clicks = Table(
    "clicks",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("issue_id", ForeignKey("issues.id", ondelete="CASCADE"), nullable=False),
    Column("pick_id", ForeignKey("picks.id", ondelete="CASCADE"), nullable=False),
    Column("delivery_id", ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False, default=now),
    Column("human", Boolean, nullable=False),
    Column("reason", String(50), nullable=False, default=""),
    Column("source", String(20), nullable=False, default="redirect"),
    CheckConstraint(_in("source", CLICK_SOURCES), name="source"),
    Index("ix_clicks_issue_pick", "issue_id", "pick_id"),
    Index("ix_clicks_delivery", "delivery_id", "at"),
    Index("ix_clicks_at", "at"),
)

# Raw click rows past retention, folded per recipient: unique clicks per pick and variant,
# and the issue's clickers (recipients with a click: people, or machines only).
click_totals = Table(
    "click_totals",
    metadata,
    Column("pick_id", ForeignKey("picks.id", ondelete="CASCADE"), primary_key=True),
    Column("variant", String(500), primary_key=True, default=""),
    Column("issue_id", ForeignKey("issues.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("human", Integer, nullable=False, default=0),
    Column("machine", Integer, nullable=False, default=0),
)

issue_click_totals = Table(
    "issue_click_totals",
    metadata,
    Column("issue_id", ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True),
    Column("human_clickers", Integer, nullable=False, default=0),
    Column("machine_clickers", Integer, nullable=False, default=0),
)

# "More like this" (+1) / "less like this" (-1), one per recipient and pick; the last word counts.
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("issue_id", ForeignKey("issues.id", ondelete="CASCADE"), nullable=False),
    Column("pick_id", ForeignKey("picks.id", ondelete="CASCADE"), nullable=False),
    Column("delivery_id", ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("feed_id", ForeignKey("feeds.id", ondelete="SET NULL")),
    Column("vote", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False, default=now),
    UniqueConstraint("delivery_id", "pick_id", name="uq_feedback_delivery_pick"),
    CheckConstraint("vote IN (-1, 1)", name="vote"),
    Index("ix_feedback_feed", "feed_id"),
    Index("ix_feedback_pick", "pick_id"),
)

# The schedule as ops edited it in the console: a job's cron fields, over the CURATOR_SCHEDULE_* default.
schedule_overrides = Table(
    "schedule_overrides",
    metadata,
    Column("job", String(50), primary_key=True),
    Column("fields", String(300), nullable=False),
    Column("updated_by", String(320), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False, default=now),
)
