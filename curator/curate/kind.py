"""Page kind: is this item a resource (article, tutorial, essay, talk) or something else?

A multinomial logistic regression over the item's embedding and a few cues from its address,
title and excerpt, trained by `models/train_kind.py` on the train part of the labelled corpus
(bench/data/curation/). The model ships as `models/kind.npz`: plain arrays read with numpy
(no pickle, no scikit-learn at run time), loaded once per process.

The kind part of a score is the expected value of each kind under the model's probabilities:
a page 90% likely a job posting scores close to the job posting's value, far below an article.
Thin items (no excerpt, or a title that is only a URL slug) are marked and penalised, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_FILE = Path(__file__).resolve().parent / "models" / "kind.npz"

RESOURCES = ("article", "tutorial", "essay", "talk")
# What each kind is worth beside an article (0): the kind part of the score.
VALUES = {
    "article": 0.0, "tutorial": 0.5, "essay": 0.5, "talk": 0.0, "roundup": -2.0, "thin_page": -2.0,
    "release_notes": -5.0, "job_posting": -6.0, "product_page": -5.0, "press_release": -5.0,
    "deal": -6.0, "event_promo": -5.0, "spam": -6.0, "keyword_trap": -5.0,
}
WORDS = {
    "article": "an article", "tutorial": "a tutorial", "essay": "an essay", "talk": "a talk",
    "roundup": "a roundup or listing page", "thin_page": "a thin page", "release_notes": "release notes",
    "job_posting": "a job posting", "product_page": "a product page", "press_release": "a press release",
    "deal": "a deal or sale", "event_promo": "an event promotion", "spam": "spam or a content farm",
    "keyword_trap": "off-topic (its words only look relevant)",
}
THIN_PENALTY = -1.0  # on top of the model's view: an item with nothing to read is hard to judge

# Cues the embedding of title and excerpt does not carry: how the address and the wording look.
CUES = {
    "job": r"\b(jobs?|careers?|hiring|vacanc\w*|apply|job[- ]description|recruit\w*|openings?|positions?)\b",
    "release": r"\b(releases?|changelog|release[- ]notes|what'?s[- ]new|v?\d+\.\d+(\.\d+)?)\b",
    "product": r"\b(pricing|plans?|buy|shop|store|product|features|demo|signup|sign[- ]up|free[- ]trial|skills?)\b",
    "press": r"\b(press|newsroom|announces?|announced|launch(es|ed)?|pr[- ]?newswire|businesswire)\b",
    "deal": r"\b(deals?|coupons?|discounts?|sale|black[- ]friday|cyber[- ]monday|promo|off)\b|%",
    "event": r"\b(summit|conference|webinar|register|registration|meetup|tickets?|event|events)\b",
    "listing": r"\b(tags?|category|categories|archives?|topics?|page|search|index|author)\b",
    "howto": r"\b(how|guide|tutorial|learn|lessons?|why|what)\b",
}
_CUES = {name: re.compile(pattern) for name, pattern in CUES.items()}
_SLUG = re.compile(r"^[\w-]+$")


@dataclass(frozen=True)
class KindModel:
    version: str
    classes: tuple[str, ...]
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # classes x features
    intercept: np.ndarray

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)


@lru_cache(maxsize=1)
def model() -> KindModel:
    """The shipped model, read once."""
    try:
        data = np.load(MODEL_FILE, allow_pickle=False)
    except OSError as exc:
        raise RuntimeError(
            f"the page-kind model {MODEL_FILE} cannot be read ({exc}); reinstall Curator, or retrain it with "
            "`python -m curator.curate.models.train_kind`"
        ) from exc
    return KindModel(
        version=str(data["version"]), classes=tuple(map(str, data["classes"])),
        features=tuple(map(str, data["features"])), mean=data["mean"], scale=data["scale"],
        coef=data["coef"], intercept=data["intercept"],
    )


def is_thin(title: str, summary: str, url: str) -> bool:
    """Nothing to read: no excerpt, or a title that is only the address or a slug."""
    title = title.strip()
    return not summary.strip() or not title or title == url or (" " not in title and bool(_SLUG.match(title)))


def cue_names() -> list[str]:
    names = [f"{where}_{cue}" for where in ("url", "title", "summary") for cue in CUES]
    return [*names, "no_summary", "short_summary", "thin", "title_words", "url_depth", "homepage"]


def cues(url: str, title: str, summary: str) -> list[float]:
    """The hand-made features, in cue_names() order."""
    path = re.sub(r"^https?://[^/]+", "", url).lower()
    address = re.sub(r"[/_.?=&-]+", " ", url.lower())
    title_l, summary_l = title.lower(), summary.lower()
    out = [float(bool(rx.search(text))) for text in (address, title_l, summary_l) for rx in _CUES.values()]
    depth = len([p for p in path.split("/") if p])
    out += [
        float(not summary.strip()), float(len(summary) < 80), float(is_thin(title, summary, url)),
        min(len(title.split()), 20) / 20, min(depth, 6) / 6, float(depth == 0),
    ]
    return out


def features(url: str, title: str, summary: str, vector: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(vector, dtype=np.float32), np.asarray(cues(url, title, summary), np.float32)])


@dataclass(frozen=True)
class Kind:
    """An item's kind as the score records it."""

    name: str
    confidence: float
    value: float  # the kind part of the score
    thin: bool

    def words(self) -> str:
        text = f"{WORDS.get(self.name, self.name)} ({round(self.confidence * 100)}%)"
        return text + ", thin: nothing to read in the feed" if self.thin else text


def classify(rows: list[tuple[str, str, str]], vectors: np.ndarray) -> list[Kind]:
    """(url, title, summary) rows with their vectors -> their kinds and kind parts."""
    if not rows:
        return []
    m = model()
    x = np.stack([features(u, t, s, v) for (u, t, s), v in zip(rows, vectors, strict=True)])
    probs = m.probabilities(x)
    values = np.array([VALUES.get(name, 0.0) for name in m.classes])
    expected = probs @ values
    out = []
    for (url, title, summary), p, value in zip(rows, probs, expected, strict=True):
        best = int(p.argmax())
        thin = is_thin(title, summary, url)
        value = round(float(value) + (THIN_PENALTY if thin else 0.0), 3)
        out.append(Kind(m.classes[best], float(p[best]), value, thin))
    return out
