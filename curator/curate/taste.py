"""Editors' taste: a per-installation model of what this installation's editors want, and where.

Two halves make the one recorded part "taste", per (item, topic):

- Is this a resource we want? A logistic regression (numpy, L2-regularised, class-balanced)
  on the item's embedding, its page kind and its source, stored with a version in
  `taste_models`. An approved pick is a positive, a rejected one a negative, a pick with a
  blurb a stronger positive, and a link added by hand the strongest. Readers add weak labels
  (issue 12): a human click on a delivered pick and "more like this" are weak positives,
  "less like this" a weak negative, each pick's readers together worth at most half of one
  editor's decision (machines' clicks never count: see curator.engagement.machines). With
  few decisions it counts a little (SCALE * n / (n + PRIOR)); with too few, nothing.
- Is it right for this topic? The topic fit (curator.curate.topic_fit): approvals and
  rejections in a topic, and picks moved out of one topic into another, near this item.

The model is retrained when decisions, moves or readers' signals changed since the stored
version (the fingerprint): at each draft, when an issue's review is approved (curator.review),
and by the scheduler. With no decisions yet the part is 0 and the ranking works from
relevance and kind alone.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Connection, func, insert, or_, select

from curator import embed
from curator.curate import kind as kinds
from curator.curate import topic_fit
from curator.engagement.figures import reader_counts
from curator.store.schema import audit_log, issues, items, picks, taste_models
from curator.store.schema import now as utcnow

SCALE = 3.0  # the part at full confidence is in (-SCALE, SCALE)
PRIOR = 20  # decisions it takes to count half
MIN_DECISIONS = 4  # and at least one approved and one rejected
WEIGHTS = {"approved": 1.0, "rejected": 1.0, "blurb": 2.0, "manual": 3.0}
L2 = 1.0
STEPS = 300
LIKE = 0.45  # cosine from which a decided item counts as "like" this one in the explanation
# Readers' weak labels, per pick: a human click, a "more like this" and a "less like this" each
# weigh this much, and one pick's readers together at most READERS_CAP: well below an editor.
READERS = {"clicks": 0.05, "more": 0.15, "less": 0.15}
READERS_CAP = 0.5
MOVE_ACTION = "pick.edit.topic"  # curator.pick_edits' audit entry: "OLD -> NEW" on "PERIOD#PICK"
CHUNK = 2048  # items scored at once: bounds the items x decisions matrices


@dataclass(frozen=True)
class Example:
    vector: np.ndarray
    kind: str
    feed_id: int | None
    label: float
    weight: float
    title: str
    editor: bool = True  # False: a reader's weak label


@dataclass
class Learned:
    """What the editors (and readers) taught: the model's examples and the topics' placements."""

    examples: list[Example] = field(default_factory=list)
    placements: list[topic_fit.Placement] = field(default_factory=list)

    @property
    def decisions(self) -> int:
        """Editors' decisions among the examples (the rest are readers' weak labels)."""
        return sum(1 for e in self.examples if e.editor)


def moves(conn: Connection) -> dict[int, list[tuple[str, str, str]]]:
    """pick id -> its topic moves (issue period, from, to), oldest first, as curator.pick_edits audited them."""
    out: dict[int, list[tuple[str, str, str]]] = {}
    rows = conn.execute(
        select(audit_log.c.target, audit_log.c.detail).where(audit_log.c.action == MOVE_ACTION).order_by(audit_log.c.id)
    )
    for target, detail in rows:
        period, _, pick_id = target.rpartition("#")
        old, arrow, new = detail.partition(" -> ")
        if arrow and pick_id.isdigit():
            out.setdefault(int(pick_id), []).append((period, old.strip(), new.strip()))
    return out


def learned(conn: Connection) -> Learned:
    """Every decided pick as an example, readers' signals as weak ones, and every decided or moved pick's placements.

    Items without a stored vector are embedded here.
    """
    moved = moves(conn)
    decided = picks.c.decision.in_(("approved", "rejected"))
    rows = conn.execute(
        select(picks.c.id, picks.c.topic, picks.c.decision, picks.c.blurb, issues.c.period, items.c.manual,
               items.c.feed_id, items.c.title, items.c.summary_text, items.c.url, items.c.embedding)
        .join(items, items.c.id == picks.c.item_id)
        .join(issues, issues.c.id == picks.c.issue_id)
        .where(or_(decided, picks.c.id.in_(list(moved))) if moved else decided)
        .order_by(picks.c.id)
    ).all()
    if not rows:
        return Learned()
    vectors = embed.stack([row.embedding for row in rows])
    missing = [n for n, row in enumerate(rows) if not row.embedding]
    if missing:
        vectors[missing] = embed.embed([embed.item_text(rows[n].title, rows[n].summary_text) for n in missing])
    found = kinds.classify([(r.url, r.title, r.summary_text) for r in rows], vectors)
    readers = reader_counts(conn, lambda pick: pick["pick_id"])
    out = Learned()
    for row, vector, k in zip(rows, vectors, found, strict=True):
        weight = WEIGHTS["manual"] if row.manual else WEIGHTS["blurb"] if row.blurb.strip() else WEIGHTS.get(
            row.decision, 0.0)
        if row.decision in ("approved", "rejected"):
            out.examples.append(Example(vector, k.name, row.feed_id, float(row.decision == "approved"), weight,
                                        row.title))
        out.examples.extend(_weak(readers.get(row.id), vector, k.name, row.feed_id, row.title))
        out.placements.extend(topic_fit.placements_of(
            vector, row.title, row.topic, row.decision, weight, _moved_from(moved.get(row.id, []), row)))
    return out


def _moved_from(history: list[tuple[str, str, str]], row) -> list[str]:
    """The topics a pick was moved out of; none when its audit entries do not lead to where it is now
    (an entry of another issue, or of a pick id reused after its issue was deleted)."""
    mine = [(old, new) for period, old, new in history if period == row.period]
    if not mine or mine[-1][1] != row.topic:
        return []
    return [old for old, _ in mine]


def _weak(counts: dict | None, vector, kind_name: str, feed_id, title: str) -> list[Example]:
    """Readers' weak labels on one delivered pick: clicks and "more like this" for, "less like this" against."""
    if not counts:
        return []
    out = []
    liked = min(READERS_CAP, READERS["clicks"] * counts["clicks"] + READERS["more"] * counts["more"])
    disliked = min(READERS_CAP, READERS["less"] * counts["less"])
    if liked:
        out.append(Example(vector, kind_name, feed_id, 1.0, liked, title, editor=False))
    if disliked:
        out.append(Example(vector, kind_name, feed_id, 0.0, disliked, title, editor=False))
    return out


def examples(conn: Connection) -> list[Example]:
    """The model's examples: one per decided (issue, item), and readers' weak ones."""
    return learned(conn).examples


def fingerprint(conn: Connection) -> str:
    """Changes whenever a decision is made, changed or undone, a pick changes topic, or readers' signals change."""
    row = conn.execute(
        select(func.count(), func.max(picks.c.decided_at), func.sum(func.length(picks.c.blurb)))
        .where(picks.c.decision.in_(("approved", "rejected")))
    ).one()
    approved = conn.execute(select(func.count()).where(picks.c.decision == "approved")).scalar()
    moved = conn.execute(
        select(func.count(), func.max(audit_log.c.id)).where(audit_log.c.action == MOVE_ACTION)
    ).one()
    readers = sorted(
        (pick_id, c["clicks"], c["more"], c["less"])
        for pick_id, c in reader_counts(conn, lambda pick: pick["pick_id"]).items()
        if c["clicks"] or c["more"] or c["less"]
    )
    return hashlib.sha256(repr((tuple(row), approved, tuple(moved), readers)).encode()).hexdigest()[:16]


@dataclass
class Model:
    """Weights over [vector, kind one-hot, source one-hot] and a bias."""

    kinds: list[str]
    feeds: list[int]
    w: np.ndarray
    b: float
    decisions: int  # editors' decisions learned from
    version: int = 0
    signals: int = 0  # readers' weak labels learned from

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
                 w=self.w, b=np.array(self.b), decisions=np.array(self.decisions), signals=np.array(self.signals))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes, version: int) -> Model:
        data = np.load(io.BytesIO(blob), allow_pickle=False)
        signals = int(data["signals"]) if "signals" in data.files else 0  # models stored before readers taught
        return cls([str(k) for k in data["kinds"]], [int(f) for f in data["feeds"]], data["w"], float(data["b"]),
                   int(data["decisions"]), version, signals)


def fit(found: list[Example]) -> Model | None:
    """A logistic regression by gradient descent; None without enough editors' decisions, or without
    both an approval and a rejection (a reader's "less like this" counts as one)."""
    labels = np.array([e.label for e in found])
    decisions = sum(1 for e in found if e.editor)
    if decisions < MIN_DECISIONS or labels.min() == labels.max():
        return None
    model = Model(sorted({e.kind for e in found}), sorted({e.feed_id for e in found if e.feed_id is not None}),
                  np.zeros(0), 0.0, decisions, signals=len(found) - decisions)
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
    found = learned(conn)
    model = fit(found.examples)
    version = (current.version if current is not None else 0) + 1
    conn.execute(insert(taste_models).values(
        version=version, trained_at=utcnow(), fingerprint=mark, decisions=found.decisions,
        model=model.to_bytes() if model is not None else None,
    ))
    return version


def load(conn: Connection) -> tuple[int, Model | None]:
    """The newest training's version (0: never trained) and its model (None: too few decisions then)."""
    row = conn.execute(
        select(taste_models.c.version, taste_models.c.model).order_by(taste_models.c.version.desc()).limit(1)
    ).first()
    if row is None:
        return 0, None
    return row.version, Model.from_bytes(row.model, row.version) if row.model is not None else None


def part(probability: float, decisions: int) -> float:
    confidence = decisions / (decisions + PRIOR)
    return round(SCALE * confidence * (2 * probability - 1), 3)


class Taste:
    """The taste part of many items for every topic at once, with words naming the decided items they are like.

    Per (item, topic): the model's value for the item (the same in every topic) plus the topic's fit.
    """

    def __init__(self, model: Model | None, found: Learned | list[Example], version: int | None = None):
        found = found if isinstance(found, Learned) else Learned(list(found))
        self.model = model
        self.version = model.version if model is not None else (version or 0)
        editors = [e for e in found.examples if e.editor]
        self.decided = _matrix([e.vector for e in editors])
        self.labels = [e.label for e in editors]
        self.titles = [e.title for e in editors]
        self.placed = found.placements
        self.placed_vectors = _matrix([p.vector for p in self.placed])

    def __call__(self, vectors: np.ndarray, feed_ids: list, kind_names: list[str],
                 topics: Sequence = ()) -> tuple[list[list[float]], list[list[str]]]:
        """One row per item and one column per topic (each with .name and .title) of values and words."""
        if self.model is not None:
            overall = [part(float(x), self.model.decisions) for x in self.model.probability(vectors, feed_ids,
                                                                                             kind_names)]
        else:
            overall = [0.0] * len(vectors)
        names = [t.name for t in topics]
        titles = [getattr(t, "title", None) or t.name for t in topics]
        values: list[list[float]] = []
        words: list[list[str]] = []
        for start in range(0, len(vectors), CHUNK):
            block = vectors[start:start + CHUNK]
            sims = block @ self.decided.T
            fitted = topic_fit.fit(block @ self.placed_vectors.T, self.placed, names)
            for i in range(len(block)):
                value = overall[start + i]
                said = self._words(sims[i], value)
                row_v, row_w = [], []
                for j, fit in enumerate(fitted.values[i].tolist()):
                    row_v.append(round(value + fit, 3))
                    why = topic_fit.words(fit, fitted.near[i], self.placed, names[j], titles[j]) if fit else ""
                    row_w.append(self._joined(why, said))
                values.append(row_v)
                words.append(row_w)
        return values, words

    def _joined(self, topic_words: str, item_words: str) -> str:
        """The topic's reason first (it is what differs between topics), then the item's."""
        if not topic_words:
            return item_words
        if self.model is None:
            return f"{topic_words} (taste model v{self.version})"
        return f"{topic_words}; overall, {item_words}"

    def _words(self, sims: np.ndarray, value: float) -> str:
        if self.model is None:
            return f"taste model v{self.version}: too few decisions yet to judge the item itself"
        close = [i for i in np.argsort(-sims)[:20] if sims[i] >= LIKE]
        liked = [i for i in close if self.labels[i] == 1]
        disliked = [i for i in close if self.labels[i] == 0]
        readers = f", {self.model.signals} readers' signals" if self.model.signals else ""
        version = f"taste model v{self.model.version}, {self.model.decisions} decisions{readers}"
        group, verb = (liked, "approved") if value >= 0 else (disliked, "rejected")
        if not group:
            return f"{version}: no close decision"
        titles = ", ".join(f"“{self.titles[i]}”" for i in group[:2])
        return f"like {len(group)} pick{'s' if len(group) > 1 else ''} you {verb}: {titles} ({version})"


def _matrix(rows: list[np.ndarray]) -> np.ndarray:
    return np.stack(rows) if rows else np.zeros((0, embed.DIM), np.float32)


def for_scoring(conn: Connection) -> Taste | None:
    """The stored model and the topics' placements ready to score with, or None (nothing taught yet: the part is 0)."""
    version, model = load(conn)
    found = learned(conn)
    if model is None and not found.placements:
        return None
    return Taste(model, found, version)
