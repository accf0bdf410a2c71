"""Numbers and periods in desk and ops addresses: anything malformed or out of range is a 404, not a 500."""

from __future__ import annotations

from starlette.requests import Request

from curator import editorial
from curator.errors import CuratorError, NotFound

MAX_ID = 2**31 - 1  # the largest id an INTEGER column holds on PostgreSQL
MAX_PAGE = 1_000_000


def checked_path(request: Request) -> None:
    """A router dependency: a `period` must be YYYY-MM and every `*_id` a positive 32-bit integer."""
    for name, value in request.path_params.items():
        if name == "period":
            try:
                editorial.parse_period(value)
            except CuratorError:
                raise NotFound(f"there is no issue {str(value)[:20]!r}: periods look like 2026-12") from None
        elif name.endswith("_id") and not (value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID):
            raise NotFound(f"there is nothing numbered {str(value)[:20]!r} here")
