"""What a fetch is asked and what it brings back: plain data, apart from the fetcher and httpx.

Parse workers receive `FetchResult`s (pickled) and import this module to read them, not
`curator.ingest.fetch`, whose httpx they never use; `curator.ingest.fetch` re-exports all three.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Status = Literal["ok", "not_modified", "error"]


@dataclass(frozen=True)
class FetchRequest:
    """A feed to fetch, with the validators of its last answer for a conditional GET."""

    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class FetchResult:
    """What one fetch brought back; `content` is the decoded body when status is ok."""

    url: str
    status: Status
    final_url: str
    moved_to: str | None = None  # the new address, after 301/308 redirects only
    http_status: int | None = None
    content: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    wait_until: datetime | None = None  # Retry-After or Cache-Control max-age
    error: str | None = None
