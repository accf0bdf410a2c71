"""Settings, declared once: defaults < CURATOR_* environment < command-line flags.

No other module reads the environment; everything takes a `Settings`.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from curator.errors import ConfigError

log = logging.getLogger("curator.config")
PACKAGE_DIR = Path(__file__).resolve().parent
SECRET_FIELDS = {"sendgrid_api_key", "secret_key", "database_url"}
SECRET_KEY_MIN = 32
MAKE_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
# Secrets published in Curator's own source (the demo's, before it made one per run): never secret.
PUBLISHED_SECRETS = frozenset({"demo-secret-not-for-production"})
# CURATOR_* variables that are not settings: the test suite's and the benchmarks' own.
NOT_SETTINGS = ("CURATOR_TEST_", "CURATOR_BENCH_")
# A list setting: "a@x.com,b@x.com" in the environment (NoDecode: not parsed as JSON first).
CommaList = Annotated[list[str], NoDecode]


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
        description="Verification key of SendGrid's signed Event Webhook; without it the webhook refuses every post",
    )
    webhook_allow_unsigned: bool = Field(
        False,
        description="Take unsigned Event Webhook posts when no key is set: local testing only, since anyone could "
        "then forge bounces and complaints (serve warns)",
    )
    webhook_max_bytes: int = Field(
        5_000_000, ge=1024, description="Largest Event Webhook post taken; a bigger one is refused (413) unread"
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
    fetch_articles: bool = Field(
        True, description="After a draft, read the candidates' article pages for word count and reading time"
    )
    min_pick_score: float = Field(
        3.0, description="Lowest score an item needs to be suggested; a thin month leaves places empty"
    )
    draft_window_days: int = Field(
        31, ge=1, description="Days of items a draft considers when no issue has been sent yet"
    )

    # readers' engagement
    click_tracking: bool = Field(
        True,
        description="Links to picks go through Curator's signed redirect (/r/…), which counts clicks; "
        "off: they go straight to the article and only SendGrid's click events are counted",
    )
    click_machine_seconds: float = Field(
        10.0, ge=0,
        description="A click this many seconds or fewer after the email went out counts as a machine's "
        "(mail scanners open every link on arrival)",
    )
    click_scanner_networks: CommaList = Field(
        default_factory=list,
        description="More networks (CIDR, comma separated) whose clicks and opens count as machines': "
        "your readers' mail security gateways",
    )
    click_retention_days: int = Field(
        90, ge=1,
        description="Days raw click rows are kept; then they are folded into per-pick totals and deleted "
        "(a daily job)",
    )

    # the web app (editors' desk, ops console)
    session_hours: float = Field(12.0, gt=0, description="Hours a sign-in lasts before asking again")
    login_max_failures: int = Field(
        5, ge=1, description="Failed sign-ins per address and IP before sign-in is refused for a while"
    )
    login_window_minutes: float = Field(
        15.0, gt=0, description="Minutes over which failed sign-ins are counted (and refused after)"
    )
    subscribe_mail_every_minutes: float = Field(
        10.0, gt=0,
        description="Minutes between two confirmation emails to one address; subscribing it again meanwhile "
        "changes nothing (the page answers as usual)",
    )
    subscribe_ip_limit: int = Field(
        10, ge=1,
        description="Subscribe posts taken from one client IP per subscribe_ip_window_minutes; more get the usual "
        "answer and do nothing",
    )
    subscribe_ip_window_minutes: float = Field(
        60.0, gt=0, description="Minutes over which subscribe_ip_limit counts a client's posts"
    )
    login_ip_max_failures: int = Field(
        20, ge=1, description="Failed sign-ins from one client IP (any addresses) before its sign-ins are refused"
    )
    login_address_max_failures: int = Field(
        50, ge=1, description="Failed sign-ins for one address (from any IP) before its sign-ins are refused a while"
    )
    login_concurrent_hashes: int = Field(
        4, ge=1, description="Password checks (argon2, 64 MiB each) run at once; more get 429 and Retry-After"
    )
    trusted_proxies: CommaList = Field(
        default_factory=list,
        description="Addresses or CIDRs of your reverse proxies (comma separated); X-Forwarded-For is "
        "believed only from them. Empty: the client is the connecting address",
    )
    allowed_hosts: CommaList = Field(
        default_factory=list,
        description="Host names the web app answers to (comma separated); empty: BASE_URL's host, "
        "localhost and 127.0.0.1. Other Host headers get 400",
    )
    fetch_allow_private: bool = Field(
        False,
        description="Let feeds be fetched from loopback and private addresses (tests and the demo); "
        "links an editor adds are always refused there",
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
    seed_list: CommaList = Field(
        default_factory=list, description="Addresses that get the ops test send (comma separated)"
    )
    editor_emails: CommaList = Field(
        default_factory=list, description="Editors told when the draft is ready (comma separated)"
    )
    ops_emails: CommaList = Field(
        default_factory=list, description="Ops told of missed or blocked sends (comma separated)"
    )

    # schedule
    schedule_ingest: str = Field("minute=0", description="Cron fields of the ingest job")
    schedule_draft: str = Field("day=25 hour=9 minute=0", description="Cron fields of the draft job")
    schedule_taste: str = Field(
        "hour=3 minute=30", description="Cron fields of the job that retrains the editors' taste model"
    )
    schedule_send: str = Field(
        "day=1st tue hour=9 minute=0", description="Cron fields of the monthly send job"
    )
    schedule_retention: str = Field(
        "hour=3 minute=30", description="Cron fields of the daily retention job (raw clicks folded and deleted)"
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

    @field_validator(
        "seed_list", "editor_emails", "ops_emails", "trusted_proxies", "allowed_hosts", "click_scanner_networks",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        """Comma-separated text (one value, several, or none) or a JSON list, as the README says."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise ValueError("starts with [ but is not a JSON list; write the values comma-separated") from None
            return value
        return [part.strip() for part in text.split(",") if part.strip()]

    @field_validator("secret_key")
    @classmethod
    def _strong_secret(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value in PUBLISHED_SECRETS:
            raise ValueError(
                "this is the demo's published secret, so anyone can sign links and sessions with it: "
                f"make a secret of your own with `{MAKE_SECRET}`"
            )
        if len(value) < SECRET_KEY_MIN:
            raise ValueError(
                f"is {len(value)} characters; it must be at least {SECRET_KEY_MIN}, random and kept secret: "
                f"make one with `{MAKE_SECRET}`"
            )
        return value

    @field_validator("trusted_proxies", "click_scanner_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR (like 10.0.0.0/8)") from None
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


# key=value pairs whose value is a password, in a URL's query or a libpq keyword string.
_SECRET_PAIR = re.compile(r"(?i)(\b[\w.-]*(?:pass|pwd|secret|token)[\w.-]*\s*=\s*)('[^']*'|[^&;\s#]*)")


def mask_url(url: str) -> str:
    """A database URL with every password form hidden: in the userinfo (even with @ in it) and in key=value pairs.

    Parsed by hand, not by SQLAlchemy: its parser splits `user:p@ss@host` at the first @ and leaves
    query parameters alone. When in doubt this hides too much, never too little.
    """
    text = _SECRET_PAIR.sub(lambda m: m.group(1) + "***", url)
    scheme, sep, rest = text.partition("://")
    if not sep or "@" not in rest:
        return text
    userinfo, _, host = rest.rpartition("@")  # the last @: a password may hold @ too
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}://{user}:***@{host}" if colon else text


def unknown_settings(environ: Mapping[str, str]) -> list[str]:
    """A warning for each CURATOR_* variable that is no setting, naming the closest real one."""
    known = {f"CURATOR_{name.upper()}" for name in Settings.model_fields} | {"CURATOR_SENDGRID_API_KEY"}
    found = []
    for name in sorted(environ):
        if not name.startswith("CURATOR_") or name in known or name.startswith(NOT_SETTINGS):
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "`curator config --markdown` lists the settings"
        found.append(f"{name} is not a Curator setting and is ignored: {hint}")
    return found


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with command-line overrides on top; misspelled names are warned about."""
    from pydantic import ValidationError

    for warning in unknown_settings(os.environ):
        log.warning(warning)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"setting CURATOR_{field.upper()}: {message}")
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
