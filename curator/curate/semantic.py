"""Semantic relevance: how close an item's meaning is to its topic's, whatever words it uses.

A topic's vector is the sum of three unit vectors (curator.embed): its title and description,
the mean of its keywords, and the mean of its `examples:`. An item's similarity is the cosine
with it. `counter_examples:` (job ads, promos, namesakes) push down items that sit closer to
one of them than to the topic. Item vectors are computed once, at ingest; topic vectors once
per draft (a few dozen short texts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from curator import embed

SCALE = 10.0  # part = SCALE * (similarity - CENTER): about +2 for a clear match, below 0 for none
CENTER = 0.25
FLOOR = 0.32  # a similarity from which an item is a candidate even without a keyword
COUNTER_WEIGHT = 10.0  # per unit of similarity by which a counter-example is closer than the topic
OTHER_WEIGHT = 5.0  # per unit of similarity by which another topic is closer: the item belongs there


@dataclass(frozen=True)
class TopicMeaning:
    """The topics' vectors (one row each) and, per topic, its counter-examples' vectors."""

    vectors: np.ndarray
    counters: list[np.ndarray]
    counter_texts: list[list[str]]


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n else v


def topic_meaning(topics: Sequence) -> TopicMeaning:
    """Vectors for topics as feeds.yaml declares them (title, description, keywords, examples)."""
    rows, counters, texts = [], [], []
    for t in topics:
        parts = [embed.embed([f"{t.title or t.name}. {t.description}"])[0]]
        parts.append(_unit(embed.embed(list(t.keywords)).mean(axis=0)))
        examples = list(getattr(t, "examples", []) or [])
        if examples:
            parts.append(_unit(embed.embed(examples).mean(axis=0)))
        rows.append(_unit(np.sum(parts, axis=0)))
        counter = list(getattr(t, "counter_examples", []) or [])
        counters.append(embed.embed(counter) if counter else np.zeros((0, embed.DIM), np.float32))
        texts.append(counter)
    return TopicMeaning(np.stack(rows) if rows else np.zeros((0, embed.DIM), np.float32), counters, texts)


@dataclass(frozen=True)
class Similarity:
    """Per item and topic: cosine with the topic, and the closest counter-example (cosine, index)."""

    topic: np.ndarray  # items x topics
    counter: np.ndarray  # items x topics, 0 where a topic has none
    counter_at: np.ndarray  # items x topics, index of the closest counter-example
    other: np.ndarray  # items x topics: cosine with the closest other topic
    other_at: np.ndarray  # items x topics: that topic's index


def similarities(vectors: np.ndarray, meaning: TopicMeaning) -> Similarity:
    topic = vectors @ meaning.vectors.T
    other = np.zeros_like(topic)
    other_at = np.zeros(topic.shape, dtype=np.int32)
    for j in range(topic.shape[1]):
        rest = topic.copy()
        rest[:, j] = -np.inf
        if topic.shape[1] > 1:
            other_at[:, j] = rest.argmax(axis=1)
            other[:, j] = rest.max(axis=1)
    counter = np.zeros_like(topic)
    at = np.zeros(topic.shape, dtype=np.int32)
    for j, c in enumerate(meaning.counters):
        if len(c):
            sims = vectors @ c.T
            at[:, j] = sims.argmax(axis=1)
            counter[:, j] = sims.max(axis=1)
    return Similarity(topic, counter, at, other, other_at)


def part(similarity: float, counter: float, other: float) -> float:
    """The semantic part: cosine with the topic, less when a counter-example or another topic is closer."""
    value = SCALE * (similarity - CENTER) - COUNTER_WEIGHT * max(0.0, counter - similarity)
    value -= OTHER_WEIGHT * max(0.0, other - similarity)
    return round(value, 3)


def words(similarity: float, counter: float, counter_text: str | None, other: float, other_name: str) -> str:
    text = f"meaning {round(similarity * 100)}% like the topic"
    if counter_text and counter > similarity:
        text += f", closer to “{counter_text}”"
    if other > similarity:
        text += f", closer to {other_name}"
    return text
