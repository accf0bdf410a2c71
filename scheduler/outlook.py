"""What goes out next, in words: "Tue 1 Dec 09:00 — December 2026 — not approved yet (this blocks the send)"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from curator.config import Settings
from curator.errors import ConfigError
from curator.store.schema import issues
from scheduler.schedule import JOBS_BY_ID, next_fire_times, trigger_for
from scheduler.stored import effective

# status -> (what it says, whether the send would go out)
STATES = {
    None: ("no draft yet (this blocks the send)", False),
    "draft": ("not approved yet (this blocks the send)", False),
    "in_review": ("in review, not approved yet (this blocks the send)", False),
    "approved": ("approved, ready to go", True),
    "sending": ("being sent now", True),
    "paused": ("paused mid-send (resume it on its page)", False),
    "sent": ("sent already: nothing more goes out", False),
    "cancelled": ("cancelled: nothing goes out", False),
}
AUTO = "not approved yet (CURATOR_AUTO_APPROVE approves the top picks at send time)"


@dataclass(frozen=True)
class NextSend:
    when: datetime | None
    period: str | None
    status: str | None
    state: str
    ready: bool

    @property
    def words(self) -> str:
        if self.when is None:
            return self.state
        return f"{short_time(self.when)} — {month(self.period)} — {self.state}"


def short_time(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b %H:%M}"


def month(period: str | None) -> str:
    return datetime.strptime(period, "%Y-%m").strftime("%B %Y") if period else ""


def next_send(settings: Settings, engine: Engine, now: datetime) -> NextSend:
    """The next scheduled send (with the schedule ops stored), its issue and whether it is ready."""
    settings = effective(settings, engine)
    try:
        upcoming = next_fire_times(trigger_for(settings, JOBS_BY_ID["send"]), now, 1)
    except ConfigError as exc:
        return NextSend(None, None, None, f"no send can be scheduled: {exc}", False)
    if not upcoming:
        return NextSend(None, None, None, "no send is scheduled in the coming year", False)
    when = upcoming[0].astimezone(settings.tz)
    period = f"{when:%Y-%m}"
    with engine.connect() as conn:
        status = conn.execute(select(issues.c.status).where(issues.c.period == period)).scalar()
    state, ready = STATES.get(status, (status or "", False))
    if status in ("draft", "in_review") and settings.auto_approve:
        state, ready = AUTO, True
    return NextSend(when, period, status, state, ready)
