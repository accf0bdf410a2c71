"""Freshness: 1 for a new item, halving every `half_life_days`."""

from __future__ import annotations

from datetime import datetime


def part(published_at: datetime, now: datetime, half_life_days: float) -> float:
    age_days = max((now - published_at).total_seconds(), 0.0) / 86400
    return round(0.5 ** (age_days / half_life_days), 3)
