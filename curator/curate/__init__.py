"""Curation: topic scores that explain themselves, and the draft issue built from them."""

from curator.curate.draft import DraftResult, TopicDraft, build_draft, window_start
from curator.curate.lexical import Doc, Score, Scorer, TopicTerms, stem
from curator.curate.score import ADDITIVE, explain, total

__all__ = [
    "ADDITIVE", "Doc", "DraftResult", "Score", "Scorer", "TopicDraft", "TopicTerms",
    "build_draft", "explain", "stem", "total", "window_start",
]
