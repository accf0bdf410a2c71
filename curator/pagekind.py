"""Page kind: is this item a resource (article, tutorial, essay, talk) or something else?

A multinomial logistic regression over the item's embedding and a few cues from its address,
title and excerpt, trained by `models/train_kind.py` on the train part of the labelled corpus
(bench/data/curation/). The model ships as `models/kind.npz`: plain arrays read with numpy
(no pickle, no scikit-learn at run time), loaded once per process. Like the embedding, an
item's kind is worked out once, at ingest, and stored with the version that made it; the kind
part of the score (curator/curate/kind.py) reads it. Shared by ingest and curate, as embed.py is.

An item's value is the expected value of each kind under the model's probabilities: a page 90%
likely a job posting is worth close to a job posting's value, far below an article.
"""

from __future__ import annotations

import hashlib
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

# Cues the embedding of title and excerpt does not carry: how the address and the wording look.
# Each is a set of words and two-word phrases; looking them up in a text's token set keeps a
# draft of 100,000 items fast (one regex pass per text instead of one per cue).
CUES = {
    "job": "job jobs career careers hiring vacancy vacancies apply recruit recruiter recruiters recruiting "
           "recruitment opening openings position positions|job description",
    "release": "release releases released changelog|release notes|what's new|whats new",
    "product": "pricing plan plans buy shop store product features demo signup trial skill skills|sign up|free trial",
    "press": "press newsroom announce announces announced launch launches launched prnewswire businesswire",
    "deal": "deal deals coupon coupons discount discounts sale promo off|black friday|cyber monday",
    "event": "summit conference webinar register registration meetup ticket tickets event events",
    "listing": "tag tags category categories archive archives topic topics page search index author",
    "howto": "how guide tutorial learn lesson lessons why what",
}
_CUE_OF = {word: n for n, spec in enumerate(CUES.values()) for word in spec.split("|")[0].split()}
_PHRASES = [(n, phrase) for n, spec in enumerate(CUES.values()) for phrase in spec.split("|")[1:]]
_TOKEN = re.compile(r"[a-z0-9']+")
_VERSION = re.compile(r"\bv?\d+\.\d+")
_RELEASE, _DEAL = list(CUES).index("release"), list(CUES).index("deal")
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
            "`python -m curator.models.train_kind`"
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


def _found(text: str) -> list[float]:
    out = [0.0] * len(CUES)
    for word in _CUE_OF.keys() & set(_TOKEN.findall(text)):
        out[_CUE_OF[word]] = 1.0
    for n, phrase in _PHRASES:
        if phrase in text:
            out[n] = 1.0
    if "%" in text:
        out[_DEAL] = 1.0  # a percentage off: a deal
    if _VERSION.search(text):
        out[_RELEASE] = 1.0  # a version number: release notes, most likely
    return out


def cues(url: str, title: str, summary: str) -> list[float]:
    """The hand-made features, in cue_names() order."""
    path = re.sub(r"^https?://[^/]+", "", url).lower()
    address = re.sub(r"[/_.?=&-]+", " ", url.lower())
    out = _found(address) + _found(title.lower()) + _found(summary.lower())
    depth = len([p for p in path.split("/") if p])
    out += [
        float(not summary.strip()), float(len(summary) < 80), float(is_thin(title, summary, url)),
        min(len(title.split()), 20) / 20, min(depth, 6) / 6, float(depth == 0),
    ]
    return out


def features(url: str, title: str, summary: str, vector: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(vector, dtype=np.float32), np.asarray(cues(url, title, summary), np.float32)])


@lru_cache(maxsize=1)
def version() -> str:
    """The model file and the kinds' values: a stored kind made by another pair is worked out again."""
    digest = hashlib.sha256(MODEL_FILE.read_bytes() + repr(sorted(VALUES.items())).encode()).hexdigest()[:10]
    return f"{model().version}+{digest}"


def predict(rows: list[tuple[str, str, str]], vectors: np.ndarray) -> list[tuple[str, float, float]]:
    """(url, title, summary) rows with their vectors -> (kind, its probability, expected value)."""
    if not rows:
        return []
    m = model()
    x = np.hstack([np.asarray(vectors, np.float32), np.array([cues(*row) for row in rows], np.float32)])
    probs = m.probabilities(x)
    expected = probs @ np.array([VALUES.get(name, 0.0) for name in m.classes])
    best = probs.argmax(axis=1)
    return [(m.classes[int(b)], round(float(p[b]), 3), round(float(v), 3))
            for b, p, v in zip(best, probs, expected, strict=True)]
