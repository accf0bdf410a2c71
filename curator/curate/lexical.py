"""Lexical relevance: BM25 of an item's title (counted twice) and summary against a topic's words.

A topic's keywords count in full and the words of its description a third. An item that
matches one of the topic's exclusion keywords gets no score there. `Scorer.relevance` gives
each item its BM25 per topic and the keywords it matched; `Scorer.score` is the whole ranking
Curator used before relevance by meaning (BM25 + source weight + freshness + feedback), kept
as the baseline that benchmarks compare with (curator/curate/baseline.py).
"""

from __future__ import annotations

import gc
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

BASELINE_PARTS = ("relevance", "source_weight", "freshness", "feedback")
K1, B = 1.2, 0.75
DESCRIPTION_WEIGHT = 1 / 3
FEEDBACK_PRIOR = 4  # decisions it takes before feedback moves halfway to its bound
TOKEN = re.compile(r"[a-z0-9]+")
SEPARATOR = ["|"]  # not a token: nothing matches across it
_STOPWORDS = (
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    get gets getting had has have having he her here hers how i if in into is it its itself just
    least less like make makes many may me more most much must my new no nor not now of off on
    once one only or other our ours out over own same she should so some such than that the their
    them then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours"""
)
STOPWORDS = frozenset(_STOPWORDS.split())


class Doc(NamedTuple):
    """What scoring needs of an item."""

    id: int
    title: str
    summary: str
    published_at: datetime
    feed_id: int | None
    title_key: str = ""  # near-duplicates share it; not a scoring input
    url: str = ""
    vector: bytes | None = None  # the stored embedding (curator.embed)
    kind: tuple | None = None  # the stored page kind: (name, confidence, value, version)


@dataclass(frozen=True)
class TopicTerms:
    """A topic as scoring sees it."""

    name: str
    keywords: Sequence[str]
    description: str = ""
    exclude: Sequence[str] = ()
    weight: float = 1.0


class Relevance(NamedTuple):
    """An item's lexical relevance: BM25 per topic index, keywords matched per topic index."""

    bm25: dict[int, float]
    matched: dict[int, list[str]]
    excluded: frozenset[int]


class Score(NamedTuple):
    item_id: int
    topic: str
    score: float
    parts: dict
    words: dict | None = None  # each part in words; kept with a pick, not with every stored score


def stem(word: str) -> str:
    """A light English stemmer: careers/career, learning/learn, managed/manage meet."""
    if len(word) <= 4:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    else:
        if word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


class _Stems(dict):
    """token -> stem, computed once per distinct token."""

    def __missing__(self, token: str) -> str:
        value = self[token] = stem(token)
        return value


def terms_of(text: str, stems: _Stems | None = None) -> str:
    """A keyword or phrase as its stemmed terms, space separated: the key scoring counts it by."""
    stems = stems if stems is not None else _Stems()
    return " ".join(stems[t] for t in TOKEN.findall(text.lower()))


class Scorer:
    """Scores many items against many topics; tokenizes each item once, IDF precomputed.

    A term is a stem ("interview") or a phrase of stems ("job search"); an item's term counts
    hold only the terms some topic asks about, its title counted twice.
    """

    def __init__(self, topics: Sequence[TopicTerms]):
        self.topics = list(topics)
        self._stems = _Stems()
        # term -> [(topic index, weight, keyword as written or None for a description word)]
        self._query: dict[str, list[tuple[int, float, str | None]]] = {}
        self._exclude: dict[str, list[int]] = {}
        self._order = [{word: n for n, word in enumerate(t.keywords)} for t in self.topics]
        for i, topic in enumerate(self.topics):
            seen: set[str] = set()
            for word in topic.keywords:
                key = terms_of(word, self._stems)
                if key and key not in seen:
                    seen.add(key)
                    self._query.setdefault(key, []).append((i, 1.0, word))
            for token in TOKEN.findall(topic.description.lower()):
                key = self._stems[token]
                if token not in STOPWORDS and len(token) > 2 and key not in seen:
                    seen.add(key)
                    self._query.setdefault(key, []).append((i, DESCRIPTION_WEIGHT, None))
            for word in topic.exclude:
                key = terms_of(word, self._stems)
                if key:
                    self._exclude.setdefault(key, []).append(i)
        self._terms = set(self._query) | set(self._exclude)
        self._exclude_terms = set(self._exclude)
        # Phrases are looked for only in items holding their first stem.
        self._phrases: dict[str, list[tuple[str, frozenset[str]]]] = {}
        for key in sorted(self._terms):
            parts = key.split(" ")
            if len(parts) > 1:
                self._phrases.setdefault(parts[0], []).append((key, frozenset(parts[1:])))
        self._wanted = {part for key in self._terms for part in key.split(" ")}
        self._seen: set[str] = set()  # tokens already stemmed
        self._hit: dict[str, str] = {}  # token -> its stem, for tokens whose stem is wanted

    def _term_counts(self, doc: Doc) -> tuple[int, dict[str, int]]:
        """The item's length and its counts of wanted terms; set operations keep per-token work in C."""
        title = TOKEN.findall(doc.title.lower())
        # The title counts twice; the separators keep a phrase from spanning title and summary.
        tokens = title + SEPARATOR + title + SEPARATOR + TOKEN.findall(doc.summary.lower())
        present = set(tokens)
        new = present - self._seen
        if new:
            self._learn(new)
        hits = present.intersection(self._hit)
        if not hits:
            return len(tokens) - 2, {}
        tf: dict[str, int] = {}
        for token in sorted(hits):  # a fixed order, so sums of floats come out the same every run
            s = self._hit[token]
            tf[s] = tf.get(s, 0) + tokens.count(token)
        phrases = [entry for s in tf if s in self._phrases for entry in self._phrases[s]]
        if phrases:
            text = " " + " ".join(map(self._stems.__getitem__, tokens)) + " "
            for key, rest in phrases:
                if rest.issubset(tf):
                    count = text.count(f" {key} ")
                    if count:
                        tf[key] = count
            # A phrase's words count only through the phrase, unless they are terms of their own.
            tf = {k: v for k, v in tf.items() if k in self._terms}
        return len(tokens) - 2, tf

    def _learn(self, tokens: set[str]) -> None:
        self._seen |= tokens
        for token in tokens:
            s = self._stems[token]
            if s in self._wanted:
                self._hit[token] = s

    def _counted(self, docs: Iterable[Doc]) -> tuple[list, dict[str, float], float]:
        """Each item with a wanted term as (doc, length, term counts), the terms' IDF, the mean length."""
        counted = []
        df: Counter = Counter()
        n = total_length = 0
        for doc in docs:
            length, tf = self._term_counts(doc)
            n += 1
            total_length += length
            if tf:
                counted.append((doc, length, tf))
                df.update(tf.keys())
        avgdl = (total_length / n if n else 0.0) or 1.0
        idf = {key: math.log(1 + (n - count + 0.5) / (count + 0.5)) for key, count in df.items()}
        return counted, idf, avgdl

    def relevance(self, docs: Iterable[Doc]) -> dict[int, Relevance]:
        """item id -> its BM25 per topic index, the keywords it matched, and the topics it is excluded from."""
        counted, idf, avgdl = self._counted(docs)
        out = {}
        for doc, length, tf in counted:
            rel, matched, excluded = self._bm25(length, tf, idf, avgdl)
            if rel or excluded:
                out[doc.id] = Relevance(rel, matched, excluded)
        return out

    def _bm25(self, length, tf, idf, avgdl):
        excluded = frozenset() if self._exclude_terms.isdisjoint(tf) else frozenset(
            i for key in tf.keys() & self._exclude_terms for i in self._exclude[key]
        )
        relevance: dict[int, float] = {}
        matched: dict[int, list[str]] = {}
        norm = K1 * (1 - B + B * length / avgdl)
        for key, count in tf.items():
            gain = idf[key] * count * (K1 + 1) / (count + norm)
            for i, weight, label in self._query.get(key, ()):
                if i in excluded:
                    continue
                relevance[i] = relevance.get(i, 0.0) + weight * gain
                if label is not None:
                    matched.setdefault(i, []).append(label)
        # Only a keyword puts an item in a topic: description words alone only add to a match.
        words = {i: sorted(w, key=self._order[i].__getitem__) if len(w) > 1 else w for i, w in matched.items()}
        return {i: relevance[i] for i in words}, words, excluded

    def score(
        self,
        docs: Iterable[Doc],
        *,
        now: datetime,
        half_life_days: float,
        source_weights: Mapping[int | None, float],
        feedback: Mapping[int | None, float],
    ) -> list[Score]:
        """Today's ranking: every (item, topic) with a keyword match, BM25 + source weight + freshness + feedback."""
        counted, idf, avgdl = self._counted(docs)
        source_weights = {k: round(v, 3) for k, v in source_weights.items()}
        feedback = {k: round(v, 3) for k, v in feedback.items()}
        out: list[Score] = []
        for doc, length, tf in counted:
            relevance, matched, _ = self._bm25(length, tf, idf, avgdl)
            age_days = max((now - doc.published_at).total_seconds(), 0.0) / 86400
            source = source_weights.get(doc.feed_id, 1.0)
            fresh = round(0.5 ** (age_days / half_life_days), 3)
            liked = feedback.get(doc.feed_id, 0.0)
            for i, words in matched.items():
                topic = self.topics[i]
                rel = round(relevance[i] * topic.weight, 3)
                parts = {"relevance": rel, "matched": words, "source_weight": source, "freshness": fresh,
                         "feedback": liked}
                out.append(Score(doc.id, topic.name, round(rel + source + fresh + liked, 3), parts))
        return out


@contextmanager
def gc_paused() -> Iterator[None]:
    """Scoring makes a few hundred thousand small containers that all live to the end: the cyclic
    collector would walk them again and again for nothing (a quarter of the time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
