"""Topic scores that explain themselves: relevance + source weight + freshness + editors' feedback.

An item's score for a topic is the sum of four recorded parts:

- relevance: BM25 of the item's title (counted twice) and summary against the topic's
  keywords (full weight) and description words (a third), times the topic's weight;
- source_weight: the feed's weight from feeds.yaml (1.0 unless said otherwise);
- freshness: 0.5 ** (age / half-life), from 1 for a new item towards 0;
- feedback: how editors treated the source before, (approved - rejected) / (decided + 4).

An item must match at least one keyword to score in a topic, and an item that matches
one of the topic's exclusion keywords gets no score there. Scoring is a pure function
of its inputs: the same items, topics and clock give the same scores.
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

ADDITIVE = ("relevance", "source_weight", "freshness", "feedback")
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


@dataclass(frozen=True)
class TopicTerms:
    """A topic as scoring sees it."""

    name: str
    keywords: Sequence[str]
    description: str = ""
    exclude: Sequence[str] = ()
    weight: float = 1.0


class Score(NamedTuple):
    item_id: int
    topic: str
    score: float
    parts: dict


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

    def score(
        self,
        docs: Iterable[Doc],
        *,
        now: datetime,
        half_life_days: float,
        source_weights: Mapping[int | None, float],
        feedback: Mapping[int | None, float],
    ) -> list[Score]:
        """Every (item, topic) score above nothing, with its parts."""
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
        if not counted:
            return []
        avgdl = total_length / n or 1.0
        source_weights = {k: round(v, 3) for k, v in source_weights.items()}
        feedback = {k: round(v, 3) for k, v in feedback.items()}
        idf = {key: math.log(1 + (n - count + 0.5) / (count + 0.5)) for key, count in df.items()}
        out: list[Score] = []
        for doc, length, tf in counted:
            out.extend(self._doc_scores(doc, length, tf, idf, avgdl, now, half_life_days,
                                        source_weights, feedback))
        return out

    def _doc_scores(self, doc, length, tf, idf, avgdl, now, half_life, source_weights, feedback):
        excluded = () if self._exclude_terms.isdisjoint(tf) else {
            i for key in tf.keys() & self._exclude_terms for i in self._exclude[key]
        }
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
        if not matched:
            return []
        age_days = max((now - doc.published_at).total_seconds(), 0.0) / 86400
        source = source_weights.get(doc.feed_id, 1.0)  # both rounded once, in score()
        fresh = round(0.5 ** (age_days / half_life), 3)
        liked = feedback.get(doc.feed_id, 0.0)
        scores = []
        for i, words in matched.items():
            topic = self.topics[i]
            rel = round(relevance[i] * topic.weight, 3)
            parts = {
                "relevance": rel,
                "matched": sorted(words, key=self._order[i].__getitem__) if len(words) > 1 else words,
                "source_weight": source,
                "freshness": fresh,
                "feedback": liked,
            }
            # The same sum, in the same order, as total(parts).
            scores.append(Score(doc.id, topic.name, round(rel + source + fresh + liked, 3), parts))
        return scores


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


def total(parts: Mapping) -> float:
    """The score: the sum of the additive parts, as recorded."""
    return round(sum(float(parts.get(name, 0.0)) for name in ADDITIVE), 3)


def feedback_value(approved: int, rejected: int) -> float:
    """Editors' past decisions on a source, in (-1, 1); a few decisions move it a little."""
    return round((approved - rejected) / (approved + rejected + FEEDBACK_PRIOR), 3)


def explain(parts: Mapping) -> str:
    """The parts of a score as an editor reads them."""
    if parts.get("manual"):
        who = parts.get("added_by")
        return "added by hand" + (f" by {who}" if who else "")
    bits = []
    if parts.get("matched"):
        bits.append("matched: " + ", ".join(parts["matched"]))
    bits.append(f"relevance {_num(parts.get('relevance', 0))}")
    bits.append(f"source weight {_num(parts.get('source_weight', 0))}")
    bits.append(f"freshness {_num(parts.get('freshness', 0))}")
    feedback = float(parts.get("feedback", 0))
    sign = "" if not feedback else "+" if feedback > 0 else "-"
    bits.append(f"editors {sign}{_num(abs(feedback))}")
    return " · ".join(bits)


def _num(value: float) -> str:
    return f"{round(float(value), 2):g}"
