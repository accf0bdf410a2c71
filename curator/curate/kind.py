"""The kind part of a score: what the page is, worth 0 for an article and far less for a job posting.

The kind itself comes from the page-kind classifier (curator/pagekind.py), stored at ingest;
thin items (no excerpt, or a title that is only a URL slug) are marked and penalised on top,
never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from curator.pagekind import MODEL_FILE, RESOURCES, VALUES, cues, is_thin, model, predict, version

__all__ = ["MODEL_FILE", "RESOURCES", "VALUES", "Kind", "classify", "cues", "is_thin", "model", "stored", "version"]

WORDS = {
    "article": "an article", "tutorial": "a tutorial", "essay": "an essay", "talk": "a talk",
    "roundup": "a roundup or listing page", "thin_page": "a thin page", "release_notes": "release notes",
    "job_posting": "a job posting", "product_page": "a product page", "press_release": "a press release",
    "deal": "a deal or sale", "event_promo": "an event promotion", "spam": "spam or a content farm",
    "keyword_trap": "off-topic (its words only look relevant)",
}
THIN_PENALTY = -1.0  # on top of the model's view: an item with nothing to read is hard to judge


@lru_cache(maxsize=4096)
def words_of(name: str, percent: int, thin: bool) -> str:
    """An item's kind in words: the same few strings for every item, made once."""
    text = f"{WORDS.get(name, name)} ({percent}%)"
    return text + ", thin: nothing to read in the feed" if thin else text


@dataclass(frozen=True)
class Kind:
    """An item's kind as the score records it."""

    name: str
    confidence: float
    value: float  # the kind part of the score
    thin: bool

    def words(self) -> str:
        return words_of(self.name, round(self.confidence * 100), self.thin)


def stored(name: str, confidence: float, value: float, url: str, title: str, summary: str) -> Kind:
    """An item's kind as ingest stored it, with the thin penalty."""
    thin = is_thin(title, summary, url)
    return Kind(name, confidence, round(value + (THIN_PENALTY if thin else 0.0), 3), thin)


def classify(rows: list[tuple[str, str, str]], vectors: np.ndarray) -> list[Kind]:
    """(url, title, summary) rows with their vectors -> their kinds and kind parts (for items without one)."""
    return [stored(name, confidence, value, *row) for row, (name, confidence, value) in
            zip(rows, predict(rows, vectors), strict=True)]
