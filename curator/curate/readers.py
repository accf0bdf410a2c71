"""Readers' interest: a recorded score part per source and per kind, from what readers did with past picks.

Plain inputs, plain output: counts per key (a source, a kind) go in, a value and the words an
editor reads come out. The counts are human figures only (machines were filtered out when the
clicks and opens were recorded, see curator.engagement.machines).

The click half compares a key's human clicks per delivered pick with the rate of all keys
together, smoothed towards that rate by PRIOR_DELIVERIES pseudo-deliveries: a new or little-read
source starts at 0 (neutral) and moves only as evidence comes in. The feedback half is
(more - less) / (more + less + PRIOR_VOTES), which a single vote cannot swing far. The value is
their weighted sum, between -1 and 1.

In the score (curator/curate/score.py, part "readers"), a candidate's interest is the mean of
its source's and its kind's (`Readers.part`), times SCALE = 0.5: the part lies in [-0.5, 0.5].
That is the size of the tie-breakers (freshness moves 0 to 1, reputation -1 to 1): it reorders
candidates a few tenths apart (two articles as much on topic, the same story from two sources),
but two candidates can move at most 1.0 apart, half the smallest step from a resource kind (article,
tutorial, essay, talk: 0 to 0.5) to a distractor kind (roundup and thin page -2; job posting,
release notes and the like -5 or -6). So readers' clicks never lift a distractor over a
genuine resource that scores the same otherwise, and a source readers love still needs its
items to be on topic. With no sent issue yet the part is 0 for every candidate.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

PRIOR_DELIVERIES = 200.0  # pseudo-deliveries at the overall click rate every key starts with
PRIOR_VOTES = 5.0  # pseudo-votes, half more and half less, every key starts with
CLICK_WEIGHT = 0.6  # the share of clicks in the value; the rest is feedback
FEEDBACK_WEIGHT = 0.4
SCALE = 0.5  # the score part is SCALE x the interest: see the module docstring for why this size
NONE = "no readers' data yet: neutral"


@dataclass(frozen=True)
class ReaderCounts:
    """What readers did with one key's past picks: human figures only."""

    delivered: int = 0  # pick deliveries: each pick once per recipient who received it
    clicks: int = 0  # unique human clicks: recipients who clicked a pick, once per pick
    more: int = 0  # "more like this"
    less: int = 0  # "less like this"

    def __add__(self, other: ReaderCounts) -> ReaderCounts:
        return ReaderCounts(
            self.delivered + other.delivered, self.clicks + other.clicks, self.more + other.more, self.less + other.less
        )


@dataclass(frozen=True)
class Interest:
    """The score part: `value` in [-1, 1] (0 is neutral), and why, in words."""

    value: float
    words: str
    click_lift: float = 0.0  # smoothed click rate over the overall rate, minus 1
    feedback: float = 0.0  # smoothed (more - less) share


def baseline_rate(counts: Mapping[Hashable, ReaderCounts]) -> float:
    """Human clicks per delivered pick over every key together (0 when nothing was delivered)."""
    total = sum(counts.values(), ReaderCounts())
    return total.clicks / total.delivered if total.delivered else 0.0


def readers_interest(counts: ReaderCounts, baseline: float) -> Interest:
    """One key's interest against the overall click rate `baseline`."""
    lift = 0.0
    if baseline > 0:
        smoothed = (counts.clicks + PRIOR_DELIVERIES * baseline) / (counts.delivered + PRIOR_DELIVERIES)
        # log2 so that twice the usual rate and half of it weigh the same; tanh keeps it in (-1, 1).
        lift = smoothed / baseline - 1
        click_part = math.tanh(math.log2(smoothed / baseline)) if smoothed > 0 else -1.0
    else:
        click_part = 0.0
    votes = counts.more + counts.less
    feedback = (counts.more - counts.less) / (votes + PRIOR_VOTES)
    value = round(CLICK_WEIGHT * click_part + FEEDBACK_WEIGHT * feedback, 4)
    return Interest(value, _words(counts, baseline, value), round(lift, 4), round(feedback, 4))


def interest_by(counts: Mapping[Hashable, ReaderCounts]) -> dict[Hashable, Interest]:
    """Every key's interest, each against the rate of all keys together."""
    baseline = baseline_rate(counts)
    return {key: readers_interest(value, baseline) for key, value in counts.items()}


def combine(*parts: Interest | None) -> Interest:
    """One part from several (a candidate's source and its kind): the mean value, the words joined."""
    given = [p for p in parts if p is not None]
    if not given:
        return Interest(0.0, NONE)
    value = round(sum(p.value for p in given) / len(given), 4)
    return Interest(value, "; ".join(p.words for p in given))


@dataclass
class Readers:
    """Readers' interest per source (feed id) and per page kind, as the score reads it."""

    by_source: Mapping[Hashable, Interest]
    by_kind: Mapping[Hashable, Interest]
    _parts: dict = field(default_factory=dict, repr=False)  # (feed id, kind) -> part: a draft asks thousands of times

    @classmethod
    def of(cls, sources: Mapping[Hashable, ReaderCounts], kinds: Mapping[Hashable, ReaderCounts]) -> Readers:
        return cls(interest_by(sources), interest_by(kinds))

    def part(self, feed_id: int | None, kind: str) -> tuple[float, str]:
        """The score part of a candidate from this source and of this kind, and its words."""
        key = (feed_id, kind)
        if key not in self._parts:
            source = self.by_source.get(feed_id) if feed_id is not None else None
            of_kind = self.by_kind.get(kind)
            value = combine(source, of_kind).value
            words = [f"source: {source.words}"] if source else []
            words += [f"kind ({kind.replace('_', ' ')}): {of_kind.words}"] if of_kind else []
            self._parts[key] = (round(SCALE * value, 3), " — ".join(words) or NONE)
        return self._parts[key]


def figures_words(counts: ReaderCounts | None, baseline: float) -> str:
    """What readers did with a key's past picks, in a line: clicks per delivered pick, then answers."""
    if counts is None or not (counts.delivered or counts.more or counts.less):
        return "no readers' data yet"
    bits = []
    if counts.delivered:
        rate = counts.clicks / counts.delivered
        bits.append(
            f"{counts.clicks} of {counts.delivered} delivered picks clicked ({_pct(rate)}, "
            f"against {_pct(baseline)} overall)"
        )
    if counts.more or counts.less:
        bits.append(f"{counts.more} more, {counts.less} less like this")
    return " · ".join(bits)


def _words(counts: ReaderCounts, baseline: float, value: float) -> str:
    if not counts.delivered and not (counts.more or counts.less):
        return NONE
    bits = []
    if counts.delivered:
        rate = counts.clicks / counts.delivered
        bits.append(
            f"readers clicked {counts.clicks} of {counts.delivered} delivered picks ({_pct(rate)}, "
            f"against {_pct(baseline)} overall)"
        )
    if counts.more or counts.less:
        bits.append(f"{counts.more} asked for more like this, {counts.less} for less")
    verdict = "liked" if value >= 0.1 else "passed over" if value <= -0.1 else "about average"
    return f"{verdict}: " + "; ".join(bits)


def _pct(rate: float) -> str:
    return f"{100 * rate:.1f}%"
