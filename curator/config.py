"""Settings, declared once: defaults < CURATOR_* environment < command-line flags.

No other module reads the environment; everything takes a `Settings`.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from curator.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
SECRET_FIELDS = {"sendgrid_api_key", "secret_key", "database_url"}


def resource_path(name: str) -> Path:
    """A file shipped with Curator: inside the wheel, or at the checkout's top level."""
    packaged = PACKAGE_DIR / name
    return packaged if packaged.exists() else PACKAGE_DIR.parent / name


def _default_feeds() -> Path:
    local = Path("feeds.yaml")
    return local if local.exists() else resource_path("feeds.yaml")


class Settings(BaseSettings):
    """Every setting Curator reads, with its default and meaning."""

    model_config = SettingsConfigDict(
        env_prefix="CURATOR_", extra="ignore", populate_by_name=True, validate_default=True
    )

    # storage and sources
    database_url: str = Field(
        "sqlite:///curator.db",
        description="SQLAlchemy URL of the database: a SQLite file or postgresql+psycopg://…",
    )
    feeds: Path = Field(
        default_factory=_default_feeds,
        description="Path of feeds.yaml (topics and feeds); ./feeds.yaml if present, else the shipped one",
    )

    # delivery
    delivery: Literal["outbox", "sendgrid", "sandbox"] = Field(
        "outbox",
        description="Delivery backend: outbox (.eml files), sendgrid, or sandbox (SendGrid validates, sends nothing)",
    )
    outbox_dir: Path = Field(Path("outbox"), description="Folder the outbox backend writes .eml files into")
    sendgrid_api_key: str | None = Field(
        None,
        validation_alias=AliasChoices("CURATOR_SENDGRID_API_KEY", "SENDGRID_API_KEY", "sendgrid_api_key"),
        description="SendGrid API key (SENDGRID_API_KEY works too); needed by sendgrid and sandbox",
    )
    sendgrid_host: str = Field("https://api.sendgrid.com", description="Base URL of the SendGrid API")
    sendgrid_webhook_public_key: str | None = Field(
        None,
        description="Public key of the SendGrid signed Event Webhook; when set, unsigned posts are refused",
    )
    sendgrid_timeout: float = Field(30.0, description="Seconds before a SendGrid request times out")
    from_email: str = Field("newsletter@example.com", description="Sender address of every email")
    from_name: str = Field("Curator", description="Sender name of every email")
    reply_to: str | None = Field(None, description="Reply-To address, if different from the sender")
    postal_address: str = Field(
        "Curator, 1 Example Street, Springfield, USA",
        description="The sender's postal address, printed in every email (CAN-SPAM)",
    )
    brand_logo_url: str = Field(
        "", description="Address (https) of the logo shown above every email and on the public pages; empty for none"
    )
    brand_accent: str = Field(
        "#0b6e4f",
        description="Accent colour of emails and public pages, as #rrggbb; dark enough for white text on it",
    )
    brand_footer: str = Field(
        "", description="A line of your own at the foot of every email and public page, such as who sends it and why"
    )
    base_url: str = Field(
        "http://localhost:8000", description="Public URL of the web app; links in emails start with it"
    )
    secret_key: str | None = Field(
        None, description="Secret for signed links and sessions; required by serve, send and worker"
    )
    timezone: str = Field("UTC", description="Time zone of the schedule and of periods (YYYY-MM)")
    confirm_max_age_days: int = Field(
        7, ge=1, description="Days a subscription's confirmation link stays valid (double opt-in)"
    )

    # ingestion
    fetch_concurrency: int = Field(100, ge=1, description="Feeds fetched at once, in all")
    fetch_per_host: int = Field(4, ge=1, description="Feeds fetched at once from one host")
    fetch_connect_timeout: float = Field(10.0, gt=0, description="Seconds to connect to a feed's host")
    fetch_read_timeout: float = Field(20.0, gt=0, description="Seconds to wait for each read")
    fetch_deadline: float = Field(60.0, gt=0, description="Seconds a whole feed fetch may take")
    fetch_max_bytes: int = Field(10_000_000, ge=1024, description="Cap on a feed's decompressed size")
    fetch_max_redirects: int = Field(5, ge=0, description="Redirects followed before giving up")
    fetch_max_wait: float = Field(
        86400.0, gt=0, description="Longest wait, in seconds, honoured from Retry-After, max-age or error backoff"
    )
    fetch_backoff: float = Field(
        900.0, gt=0, description="Seconds before a failing feed is tried again; doubles with each further error"
    )
    ingest_processes: int = Field(
        0, ge=0, description="Processes that parse feeds: 0 is one per CPU core on big runs, 1 parses in-process"
    )
    allow_file_feeds: bool = Field(False, description="Allow file: feeds (the offline demo turns it on)")
    feed_disable_after: int = Field(10, ge=1, description="Consecutive errors before a feed is disabled")

    # curation
    freshness_half_life_days: float = Field(14.0, gt=0, description="Days after which freshness halves")
    per_source_limit: int = Field(2, ge=1, description="Most picks from one source per topic")
    spare_picks: int = Field(3, ge=0, description="Candidates beyond each topic's quota")
    draft_window_days: int = Field(
        31, ge=1, description="Days of items a draft considers when no issue has been sent yet"
    )

    # the web app (editors' desk, ops console)
    session_hours: float = Field(12.0, gt=0, description="Hours a sign-in lasts before asking again")
    login_max_failures: int = Field(
        5, ge=1, description="Failed sign-ins per address and IP before sign-in is refused for a while"
    )
    login_window_minutes: float = Field(
        15.0, gt=0, description="Minutes over which failed sign-ins are counted (and refused after)"
    )
    page_fetch_timeout: float = Field(
        5.0, gt=0, description="Seconds to fetch a page's title when an editor adds a link by hand"
    )

    # sending
    send_batch_size: int = Field(1000, ge=1, le=1000, description="Recipients claimed per batch")
    send_lease_seconds: int = Field(
        300, ge=1,
        description="Seconds before an in-flight batch whose worker went silent is uncertain; above sendgrid_timeout",
    )
    send_reconcile_seconds: float = Field(
        600.0, ge=0,
        description="Seconds an uncertain batch waits for SendGrid's events before send_uncertain_policy decides",
    )
    send_uncertain_policy: Literal["resend", "give_up"] = Field(
        "resend",
        description="An uncertain batch with no event after send_reconcile_seconds: resend it once "
        "(a duplicate is possible) or give_up (its rows fail; `curator retry` resends them)",
    )
    send_retry_base_seconds: float = Field(
        1.0, ge=0, description="First wait before retrying a batch after a 5xx or network error; doubles each time"
    )
    send_retry_max_seconds: float = Field(60.0, ge=0, description="Longest wait between two attempts of a batch")
    send_poll_seconds: float = Field(2.0, gt=0, description="Seconds an idle worker sleeps before looking again")
    send_max_attempts: int = Field(5, ge=1, description="Attempts per batch on 5xx and network errors")
    send_rate_requests: float = Field(50.0, gt=0, description="SendGrid requests per second, all workers")
    send_rate_recipients: float = Field(
        50_000.0, gt=0, description="Recipients per second, all workers"
    )
    seed_list: list[str] = Field(
        default_factory=list, description="Addresses that get the ops test send (comma separated)"
    )
    editor_emails: list[str] = Field(
        default_factory=list, description="Editors told when the draft is ready (comma separated)"
    )
    ops_emails: list[str] = Field(
        default_factory=list, description="Ops told of missed or blocked sends (comma separated)"
    )

    # schedule
    schedule_ingest: str = Field("minute=0", description="Cron fields of the ingest job")
    schedule_draft: str = Field("day=25 hour=9 minute=0", description="Cron fields of the draft job")
    schedule_send: str = Field(
        "day=1st tue hour=9 minute=0", description="Cron fields of the monthly send job"
    )
    send_grace_hours: float = Field(
        6.0, ge=0, description="A send missed by more than this is not sent automatically"
    )
    auto_approve: bool = Field(
        False, description="At send time, approve the top picks of an unapproved issue"
    )
    log_json: bool = Field(False, description="Write logs as JSON lines (for production)")
    scheduler_heartbeat_seconds: float = Field(
        10.0, gt=0, description="Seconds between the scheduler leader's heartbeats (and a standby's lock attempts)"
    )
    scheduler_lock_timeout: float = Field(
        60.0, gt=0,
        description="Seconds without a heartbeat before a standby scheduler takes over (SQLite lock row) "
        "and /healthz reports the scheduler down",
    )
    scheduler_delivers: bool = Field(
        True,
        description="The scheduler leader also sends the batches of sends under way (a worker pass every minute), "
        "so one process is enough; turn it off when `curator worker` processes do the sending",
    )

    @field_validator("seed_list", "editor_emails", "ops_emails", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("brand_accent")
    @classmethod
    def _readable_accent(cls, value: str) -> str:
        return check_accent(value)

    @field_validator("brand_logo_url")
    @classmethod
    def _logo_address(cls, value: str) -> str:
        value = value.strip()
        if value and not value.lower().startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not a web address: give the logo's https:// URL, or leave it empty")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Paris)") from None
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def require(self, *names: str, command: str) -> None:
        """Stop `command` before it starts when a setting it needs is missing."""
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            env = ", ".join(f"CURATOR_{n.upper()}" for n in missing)
            raise ConfigError(f"`curator {command}` needs {env}: set it in the environment.")

    def effective(self) -> dict[str, str]:
        """Every setting as text, secrets masked (for `curator config`)."""
        out = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in SECRET_FIELDS and value:
                value = mask(str(value)) if name != "database_url" else mask_url(str(value))
            elif isinstance(value, list):
                value = ",".join(value)
            out[name] = "" if value is None else str(value)
        return out


def check_accent(value: str) -> str:
    """A #rrggbb (or #rgb) colour with a contrast of at least 4.5 against white, lowercased; ValueError if not."""
    text = value.strip().lower()
    if re.fullmatch(r"#[0-9a-f]{3}", text):
        text = "#" + "".join(ch * 2 for ch in text[1:])
    if not re.fullmatch(r"#[0-9a-f]{6}", text):
        raise ValueError(f"{value!r} is not a colour: write it as #rrggbb, for example #0b6e4f")
    ratio = 1.05 / (_luminance(text) + 0.05)
    if ratio < 4.5:
        raise ValueError(
            f"{text} is too light: white text on it has a contrast of {ratio:.1f}:1 and needs 4.5:1; "
            "choose a darker shade"
        )
    return text


def _luminance(colour: str) -> float:
    """WCAG relative luminance of #rrggbb."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def mask(secret: str) -> str:
    return secret[:3] + "…" if len(secret) > 8 else "…"


def mask_url(url: str) -> str:
    """Hide the password of a database URL."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with command-line overrides on top."""
    from pydantic import ValidationError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            lines.append(f"setting CURATOR_{field.upper()}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None


def settings_markdown() -> str:
    """The README's table of settings, made from the declarations above."""
    rows = ["| setting | default | meaning |", "| --- | --- | --- |"]
    for name, info in Settings.model_fields.items():
        if info.default_factory is not None:
            default = "./feeds.yaml, else the shipped one" if name == "feeds" else "(empty)"
        elif info.default is None:
            default = "(none)"
        else:
            default = str(info.default).lower() if isinstance(info.default, bool) else str(info.default)
        rows.append(f"| `CURATOR_{name.upper()}` | `{default}` | {info.description} |")
    return "\n".join(rows) + "\n"
