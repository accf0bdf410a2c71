"""The rankings that curation is measured against (bench/curation_quality.py): not used to draft.

- today: the ranking before relevance by meaning, page kinds and taste: BM25 over the
  topic's keywords and description, plus source weight (1.0 here) and freshness.
- keyword count: how many times the topic's keywords occur in the title and summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from curator.curate.lexical import TOKEN, Doc, Scorer, TopicTerms, _Stems, terms_of


def today_scores(docs: Sequence[Doc], topics: Sequence, *, now: datetime, half_life_days: float = 14.0
                 ) -> dict[str, dict[int, float]]:
    """topic -> item -> score, as Curator ranked before issue 9."""
    terms = [TopicTerms(t.name, t.keywords, t.description, t.exclude, t.weight) for t in topics]
    out: dict[str, dict[int, float]] = {t.name: {} for t in topics}
    for s in Scorer(terms).score(docs, now=now, half_life_days=half_life_days, source_weights={}, feedback={}):
        out[s.topic][s.item_id] = s.score
    return out


def keyword_scores(docs: Sequence[Doc], topics: Sequence) -> dict[str, dict[int, float]]:
    """topic -> item -> how many keyword occurrences its title and summary hold."""
    stems = _Stems()
    wanted = {t.name: [terms_of(k, stems) for k in t.keywords] for t in topics}
    out: dict[str, dict[int, float]] = {t.name: {} for t in topics}
    for doc in docs:
        text = " " + " ".join(stems[w] for w in TOKEN.findall(f"{doc.title} {doc.summary}".lower())) + " "
        for name, keys in wanted.items():
            count = sum(text.count(f" {key} ") for key in keys if key)
            if count:
                out[name][doc.id] = float(count)
    return out
