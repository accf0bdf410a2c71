"""A score per (item, topic), made of recorded parts that add up to it, each with its words.

The parts, one module each:

- lexical (lexical.py): BM25 of the title and summary against the topic's keywords, halved;
- semantic (semantic.py): how close the item's meaning is to the topic's;
- kind (kind.py): what the page is: an article is worth 0, a job posting or release notes far less;
- taste (taste.py): what this installation's editors approved, rejected and moved between topics
  before, and what readers clicked and asked more or less of (0 until they decide); per topic;
- reputation (reputation.py): the source's smoothed approval rate;
- source_weight: the feed's weight from feeds.yaml (1.0 unless said otherwise);
- freshness (freshness.py): 1 for a new item, halving every half-life;
- readers (readers.py): what readers did with past picks of the item's source and kind (0 before any).

An item is a candidate for a topic when it matches one of the topic's keywords or its meaning
is close enough; never when it matches one of the topic's exclusion keywords. Scoring is a pure
function of its inputs: the same items, topics, decisions and clock give the same scores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np

from curator import embed
from curator.curate import freshness, kind, lexical, reputation, semantic
from curator.curate.lexical import Doc, Score, Scorer, TopicTerms
from curator.curate.readers import NONE as NO_READERS
from curator.curate.readers import Readers

ADDITIVE = ("lexical", "semantic", "kind", "taste", "reputation", "source_weight", "freshness", "readers")
# Parts of scores stored before issue 9 (BM25 + source weight + freshness + feedback) still add up.
_EARLIER = ("relevance", "feedback")
LEXICAL_WEIGHT = 0.5
LEXICAL_CAP = 8.0  # BM25 beyond this says nothing more: a keyword repeated is not a better resource

NO_TASTE = "no editors' decisions learned yet"
FRESHNESS_WORDS = "1 when new, halving every half-life"  # a constant: 100,000 dates formatted cost a draft 0.3 s

# taste(vectors, feed ids, kind names, topics) -> (values, words), one row per item and one column per
# topic: the editors' taste part, when learned.
Taste = Callable[[np.ndarray, list, list[str], Sequence], tuple[list[list[float]], list[list[str]]]]


@dataclass(frozen=True)
class Context:
    """Everything a score depends on besides the items and topics."""

    now: datetime
    half_life_days: float
    source_weights: Mapping[int | None, float]
    decisions: Mapping[int, tuple[int, int]]  # feed id -> (approved, rejected)
    taste: Taste | None = None
    readers: Readers | None = None  # None: no sent issue yet, the part is 0


def score_items(docs: Sequence[Doc], topics: Sequence, context: Context) -> list[Score]:
    """Every candidate (item, topic) with its parts, which add up to its score."""
    if not docs or not topics:
        return []
    vectors = embed.stack([doc.vector for doc in docs])
    has_vector = vectors.any(axis=1)
    terms = [TopicTerms(t.name, t.keywords, t.description, t.exclude, t.weight) for t in topics]
    lexical_rel = Scorer(terms).relevance(docs)
    meaning = semantic.topic_meaning(topics)
    sims = semantic.similarities(vectors, meaning)
    pairs = _candidates(docs, lexical_rel, has_vector[:, None] & (sims.topic >= semantic.FLOOR))
    # Only items that are a candidate somewhere need their kind and taste: most of a busy month is not.
    wanted = sorted(pairs)
    found = _kinds([docs[n] for n in wanted], vectors[wanted])
    kinds = dict(zip(wanted, found, strict=True))
    tastes = None
    if context.taste and wanted:
        values, words = context.taste(vectors[wanted], [docs[n].feed_id for n in wanted], [k.name for k in found],
                                      topics)
        tastes = (dict(zip(wanted, values, strict=True)), dict(zip(wanted, words, strict=True)))
    # Plain lists: indexing a numpy array one cell at a time costs more than the rest of a score.
    sim = _Sims(sims.topic.tolist(), sims.counter.tolist(), sims.counter_at.tolist(), sims.other.tolist(),
                sims.other_at.tolist())
    names = [t.title or t.name for t in topics]
    out: list[Score] = []
    for n in wanted:
        doc = docs[n]
        rel = lexical_rel.get(doc.id)
        common = _common_parts(doc, kinds[n], context)
        for j in pairs[n]:
            matched = rel.matched.get(j) if rel is not None else None
            taste = (tastes[0][n][j], tastes[1][n][j]) if tastes else (0.0, NO_TASTE)
            out.append(_score(doc, topics[j], j, rel, matched, sim, meaning, n, bool(has_vector[n]), common,
                              names[sim.other_at[n][j]], taste))
    return out


class _Sims(NamedTuple):
    topic: list
    counter: list
    counter_at: list
    other: list
    other_at: list


def _candidates(docs: Sequence[Doc], lexical_rel: dict, close: np.ndarray) -> dict[int, list[int]]:
    """item index -> the topics (indices) it is a candidate for: a keyword matched or a close meaning,
    and no exclusion keyword."""
    out: dict[int, set[int]] = {}
    rows, cols = np.nonzero(close)
    for n, j in zip(rows.tolist(), cols.tolist(), strict=True):
        out.setdefault(n, set()).add(j)
    for n, doc in enumerate(docs):
        rel = lexical_rel.get(doc.id)
        if rel is None:
            continue
        topics = out.setdefault(n, set())
        topics.update(rel.matched)
        topics.difference_update(rel.excluded)
    return {n: sorted(topics) for n, topics in out.items() if topics}


def _kinds(docs: Sequence[Doc], vectors: np.ndarray) -> list[kind.Kind]:
    """Each item's kind: as stored at ingest, worked out here only for items without a current one."""
    current = kind.version()
    out: list[kind.Kind | None] = [
        kind.stored(*doc.kind[:3], doc.url, doc.title, doc.summary) if doc.kind and doc.kind[3] == current else None
        for doc in docs
    ]
    missing = [n for n, k in enumerate(out) if k is None]
    if missing:
        found = kind.classify([(docs[n].url, docs[n].title, docs[n].summary) for n in missing], vectors[missing])
        for n, k in zip(missing, found, strict=True):
            out[n] = k
    return out  # type: ignore[return-value]


def _common_parts(doc: Doc, k: kind.Kind, context: Context) -> tuple[dict, dict]:
    """The parts that do not depend on the topic, and their words."""
    approved, rejected = context.decisions.get(doc.feed_id, (0, 0)) if doc.feed_id is not None else (0, 0)
    interest, interest_words = context.readers.part(doc.feed_id, k.name) if context.readers else (0.0, NO_READERS)
    parts = {
        "kind": k.value,
        "reputation": reputation.part(approved, rejected),
        "source_weight": round(context.source_weights.get(doc.feed_id, 1.0), 3),
        "freshness": freshness.part(doc.published_at, context.now, context.half_life_days),
        "readers": interest,
    }
    words = {
        "kind": kind.words_of(k.name, round(k.confidence * 100), k.thin),
        "reputation": reputation.words(approved, rejected),
        "source_weight": "the feed's weight in feeds.yaml",
        "freshness": FRESHNESS_WORDS,
        "readers": interest_words,
    }
    return parts, {"page_kind": k.name, "kind_confidence": round(k.confidence, 3), "thin": k.thin, "words": words}


def _score(doc, topic, j, rel, matched, sim, meaning, n, has_vector, common, other_name, taste) -> Score:
    parts_common, extra = common
    bm25 = rel.bm25.get(j, 0.0) if rel is not None and matched else 0.0
    lexical_part = round(min(bm25, LEXICAL_CAP) * LEXICAL_WEIGHT * topic.weight, 3)
    similarity, counter, other = sim.topic[n][j], sim.counter[n][j], sim.other[n][j]
    semantic_part = round(semantic.part(similarity, counter, other) * topic.weight, 3) if has_vector else 0.0
    counter_texts = meaning.counter_texts[j]
    counter_text = counter_texts[sim.counter_at[n][j]] if counter_texts else None
    words = {
        **extra["words"],
        "lexical": ("matched: " + ", ".join(matched)) if matched else "no keyword matched",
        "semantic": semantic.words(similarity, counter, counter_text, other, other_name) if has_vector
        else "no vector stored",
        "taste": taste[1],
    }
    # The same sum, in the same order, as total(parts).
    p = parts_common
    taste_part = round(taste[0], 3)
    score = round(lexical_part + semantic_part + p["kind"] + taste_part + p["reputation"] + p["source_weight"]
                  + p["freshness"] + p["readers"], 3)
    parts = {"lexical": lexical_part, "semantic": semantic_part, "taste": taste_part, **parts_common,
             "matched": matched or [],
             "page_kind": extra["page_kind"], "kind_confidence": extra["kind_confidence"], "thin": extra["thin"]}
    return Score(doc.id, topic.name, score, parts, words)


def total(parts: Mapping) -> float:
    """The score: the sum of the additive parts, as recorded."""
    value = 0.0
    for name in (*ADDITIVE, *_EARLIER):
        value += float(parts.get(name, 0.0) or 0.0)
    return round(value, 3)


def explain(parts: Mapping) -> str:
    """The parts of a score as an editor reads them."""
    if parts.get("manual"):
        who = parts.get("added_by")
        return "added by hand" + (f" by {who}" if who else "")
    if "lexical" not in parts:
        return _explain_earlier(parts)
    words = parts.get("words") or {}
    bits = []
    for name in ADDITIVE:
        value = float(parts.get(name, 0.0) or 0.0)
        if name in ("taste", "reputation") and not value:
            continue
        if name == "readers" and not value and words.get(name) in (None, NO_READERS):
            continue  # no sent issue yet, or a score stored before the part existed
        label = name.replace("_", " ")
        text = words.get(name)
        bits.append(f"{label} {_signed(value)}" + (f" ({text})" if text and name != "source_weight" else ""))
    return " · ".join(bits)


def _explain_earlier(parts: Mapping) -> str:
    """Scores stored before issue 9: relevance, source weight, freshness, editors' feedback."""
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


def _signed(value: float) -> str:
    return ("+" if value > 0 else "-" if value < 0 else "") + _num(abs(value))


def _num(value: float) -> str:
    return f"{round(float(value), 2):g}"


__all__ = ["ADDITIVE", "Context", "Doc", "Score", "Scorer", "TopicTerms", "explain", "lexical", "score_items", "total"]
