"""Editors' taste: a per-installation model of what this installation's editors approve.

Every decision teaches it: an approved pick is a positive, a rejected one a negative, a pick
with a blurb a stronger positive, and a link added by hand the strongest. The model is a
logistic regression (numpy, L2-regularised, class-balanced) on the item's embedding, its page
kind and its source, stored with a version in `taste_models`. It is retrained when decisions
changed since the stored version: at each draft, after an issue's review is approved, and by
the scheduler. With no (or too few) decisions the part is 0 and the ranking works from
relevance and kind alone; with few, it counts a little (SCALE * n / (n + PRIOR)).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, func, insert, select

from curator import embed
from curator.curate import kind as kinds
from curator.store.schema import items, picks, taste_models
from curator.store.schema import now as utcnow

SCALE = 3.0  # the part at full confidence is in (-SCALE, SCALE)
PRIOR = 20  # decisions it takes to count half
MIN_DECISIONS = 4  # and at least one approved and one rejected
WEIGHTS = {"approved": 1.0, "rejected": 1.0, "blurb": 2.0, "manual": 3.0}
L2 = 1.0
STEPS = 300
LIKE = 0.45  # cosine from which a decided item counts as "like" this one in the explanation


@dataclass(frozen=True)
class Example:
    vector: np.ndarray
    kind: str
    feed_id: int | None
    label: float
    weight: float
    title: str


def examples(conn: Connection) -> list[Example]:
    """One example per decided (issue, item); items without a stored vector are embedded here."""
    rows = conn.execute(
        select(picks.c.decision, picks.c.blurb, items.c.manual, items.c.feed_id, items.c.title,
               items.c.summary_text, items.c.url, items.c.embedding)
        .join(items, items.c.id == picks.c.item_id)
        .where(picks.c.decision.in_(("approved", "rejected")))
        .order_by(picks.c.id)
    ).all()
    if not rows:
        return []
    vectors = embed.stack([row.embedding for row in rows])
    missing = [n for n, row in enumerate(rows) if not row.embedding]
    if missing:
        vectors[missing] = embed.embed([embed.item_text(rows[n].title, rows[n].summary_text) for n in missing])
    found = kinds.classify([(r.url, r.title, r.summary_text) for r in rows], vectors)
    out = []
    for row, vector, k in zip(rows, vectors, found, strict=True):
        weight = WEIGHTS["manual"] if row.manual else WEIGHTS["blurb"] if row.blurb.strip() else WEIGHTS[row.decision]
        out.append(Example(vector, k.name, row.feed_id, float(row.decision == "approved"), weight, row.title))
    return out


def fingerprint(conn: Connection) -> str:
    """Changes whenever a decision is made, changed or undone."""
    row = conn.execute(
        select(func.count(), func.max(picks.c.decided_at), func.sum(func.length(picks.c.blurb)))
        .where(picks.c.decision.in_(("approved", "rejected")))
    ).one()
    approved = conn.execute(select(func.count()).where(picks.c.decision == "approved")).scalar()
    return hashlib.sha256(repr((tuple(row), approved)).encode()).hexdigest()[:16]


@dataclass
class Model:
    """Weights over [vector, kind one-hot, source one-hot] and a bias."""

    kinds: list[str]
    feeds: list[int]
    w: np.ndarray
    b: float
    decisions: int
    version: int = 0

    def features(self, vectors: np.ndarray, feed_ids: list, kind_names: list[str]) -> np.ndarray:
        k = np.array([[float(name == c) for c in self.kinds] for name in kind_names]).reshape(len(kind_names), -1)
        f = np.array([[float(fid == c) for c in self.feeds] for fid in feed_ids]).reshape(len(feed_ids), -1)
        return np.hstack([vectors, k, f])

    def probability(self, vectors: np.ndarray, feed_ids: list, kind_names: list[str]) -> np.ndarray:
        z = self.features(vectors, feed_ids, kind_names) @ self.w + self.b
        return 1 / (1 + np.exp(-np.clip(z, -30, 30)))

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, kinds=np.array(self.kinds, dtype=str), feeds=np.array(self.feeds, dtype=np.int64),
                 w=self.w, b=np.array(self.b), decisions=np.array(self.decisions))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes, version: int) -> Model:
        data = np.load(io.BytesIO(blob), allow_pickle=False)
        return cls([str(k) for k in data["kinds"]], [int(f) for f in data["feeds"]], data["w"], float(data["b"]),
                   int(data["decisions"]), version)


def fit(found: list[Example]) -> Model | None:
    """A logistic regression by gradient descent; None without enough decisions of both kinds."""
    labels = np.array([e.label for e in found])
    if len(found) < MIN_DECISIONS or labels.min() == labels.max():
        return None
    model = Model(sorted({e.kind for e in found}), sorted({e.feed_id for e in found if e.feed_id is not None}),
                  np.zeros(0), 0.0, len(found))
    x = model.features(np.stack([e.vector for e in found]), [e.feed_id for e in found], [e.kind for e in found])
    weights = np.array([e.weight for e in found])
    positive = weights[labels == 1].sum()
    negative = weights[labels == 0].sum()
    weights = np.where(labels == 1, weights / positive, weights / negative) / 2  # balanced, summing to 1
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(STEPS):
        p = 1 / (1 + np.exp(-np.clip(x @ w + b, -30, 30)))
        g = weights * (p - labels)
        w -= 2.0 * (x.T @ g + L2 * w / len(found))
        b -= 2.0 * g.sum()
    model.w, model.b = w, b
    return model


def retrain(conn: Connection, *, force: bool = False) -> int | None:
    """Train on every decision when they changed since the stored model; returns the version in use."""
    current = conn.execute(
        select(taste_models.c.version, taste_models.c.fingerprint).order_by(taste_models.c.version.desc()).limit(1)
    ).first()
    mark = fingerprint(conn)
    if current is not None and current.fingerprint == mark and not force:
        return current.version
    found = examples(conn)
    model = fit(found)
    version = (current.version if current is not None else 0) + 1
    conn.execute(insert(taste_models).values(
        version=version, trained_at=utcnow(), fingerprint=mark, decisions=len(found),
        model=model.to_bytes() if model is not None else None,
    ))
    return version


def load(conn: Connection) -> Model | None:
    row = conn.execute(
        select(taste_models.c.version, taste_models.c.model).order_by(taste_models.c.version.desc()).limit(1)
    ).first()
    if row is None or row.model is None:
        return None
    return Model.from_bytes(row.model, row.version)


def part(probability: float, decisions: int) -> float:
    confidence = decisions / (decisions + PRIOR)
    return round(SCALE * confidence * (2 * probability - 1), 3)


class Taste:
    """The taste part of many items at once, with words naming the decided items they are like."""

    def __init__(self, model: Model, found: list[Example]):
        self.model = model
        self.decided = np.stack([e.vector for e in found]) if found else np.zeros((0, embed.DIM), np.float32)
        self.labels = [e.label for e in found]
        self.titles = [e.title for e in found]

    def __call__(self, vectors: np.ndarray, feed_ids: list, kind_names: list[str]) -> tuple[list[float], list[str]]:
        p = self.model.probability(vectors, feed_ids, kind_names)
        values = [part(float(x), self.model.decisions) for x in p]
        sims = vectors @ self.decided.T if len(self.decided) else np.zeros((len(vectors), 0))
        return values, [self._words(row, v) for row, v in zip(sims, values, strict=True)]

    def _words(self, sims: np.ndarray, value: float) -> str:
        close = [i for i in np.argsort(-sims)[:20] if sims[i] >= LIKE]
        liked = [i for i in close if self.labels[i] == 1]
        disliked = [i for i in close if self.labels[i] == 0]
        version = f"taste model v{self.model.version}, {self.model.decisions} decisions"
        group, verb = (liked, "approved") if value >= 0 else (disliked, "rejected")
        if not group:
            return f"{version}: no close decision"
        titles = ", ".join(f"“{self.titles[i]}”" for i in group[:2])
        return f"like {len(group)} pick{'s' if len(group) > 1 else ''} you {verb}: {titles} ({version})"


def for_scoring(conn: Connection) -> Taste | None:
    """The stored model ready to score with, or None (no decisions yet: the part stays 0)."""
    model = load(conn)
    if model is None:
        return None
    return Taste(model, examples(conn))
