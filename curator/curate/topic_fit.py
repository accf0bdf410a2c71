"""The topic half of the editors' taste: does an item belong in *this* topic, judged by where editors put items like it.

A decision is made in a topic. Approving a pick in Career says "right for Career", rejecting it
"not here", and moving a pick from Learning to Career says both at once: wrong for Learning,
right for Career. Each of these is a placement: (the item's vector, a topic, +1 or -1, a weight).

For an item and a topic, every placement in that topic counts by how close its item is to this
one (a kernel on the cosine: 0 up to NEAR, rising to 1 at SAME) times its weight:

    fit = sum(k * w * y) / (sum(k * w) + PRIOR)        in (-1, 1)

PRIOR is weight's worth of "no opinion": a move of a near-identical item gives -0.5 (out of the
topic) or +0.5 (into it), two give 0.67, many approach 1; an item like none of them gets 0. The
part is SCALE * fit. A pure function of plain inputs; the placements come from
curator.curate.taste, which reads decisions and moves from the database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NEAR = 0.35  # cosine up to which a placed item says nothing about this one
SAME = 0.75  # cosine from which it counts fully
PRIOR = 2.0  # weight of "no opinion yet": a move or two count little
SCALE = 2.0  # the part at full confidence is in (-SCALE, SCALE)
MOVED = 2.0  # a move states the topic outright: it weighs twice an approval made where the draft put it
SHOWN = 2  # titles named in the words

# How a placement was made, as the words say it of a topic called T.
HOW = {"moved_in": "moved to {T}", "moved_out": "moved out of {T}", "approved": "approved in {T}",
       "rejected": "rejected in {T}"}


@dataclass(frozen=True)
class Placement:
    """An item an editor placed in a topic (label +1) or out of it (-1), and how."""

    vector: np.ndarray
    topic: str
    label: float
    weight: float
    title: str
    how: str  # a key of HOW


def placements_of(vector: np.ndarray, title: str, topic: str, decision: str, weight: float,
                  moved_from: Sequence[str]) -> list[Placement]:
    """What one pick says about topics: its decision in its (final) topic, and the topics it was moved out of.

    A pick moved into its topic and approved (or left suggested) is right for it, at a move's
    weight at least; one rejected there is not, whatever brought it (the rejection is the last word).
    """
    out = [Placement(vector, old, -1.0, MOVED, title, "moved_out") for old in dict.fromkeys(moved_from) if old != topic]
    moved_in = bool(out)
    if decision == "rejected":
        out.append(Placement(vector, topic, -1.0, weight, title, "rejected"))
    elif decision == "approved" or moved_in:
        how = "moved_in" if moved_in else "approved"
        out.append(Placement(vector, topic, 1.0, max(weight, MOVED) if moved_in else weight, title, how))
    return out


def kernel(sims: np.ndarray) -> np.ndarray:
    return np.clip((sims - NEAR) / (SAME - NEAR), 0.0, 1.0)


@dataclass(frozen=True)
class Fit:
    """Per item (rows) and topic (columns): the part, and the kernel that made it (to name the items)."""

    values: np.ndarray
    near: np.ndarray  # items x placements


def fit(sims: np.ndarray, placed: Sequence[Placement], topics: Sequence[str]) -> Fit:
    """The topic part of each item (rows of `sims`: cosines with each placement's item) for each topic."""
    near = kernel(sims)
    column = {name: j for j, name in enumerate(topics)}
    weighted = np.zeros((len(placed), len(topics)))
    signed = np.zeros((len(placed), len(topics)))
    for i, p in enumerate(placed):
        j = column.get(p.topic)
        if j is not None:
            weighted[i, j] = p.weight
            signed[i, j] = p.weight * p.label
    values = SCALE * (near @ signed) / (near @ weighted + PRIOR)
    return Fit(np.round(values, 3), near)


def words(value: float, near: np.ndarray, placed: Sequence[Placement], topic: str, title: str) -> str:
    """ "like 2 picks you moved to Career: “…”, “…”", naming the closest placements on the value's side."""
    sign = 1.0 if value > 0 else -1.0
    idx = [i for i in np.flatnonzero(near) if placed[i].topic == topic and placed[i].label == sign]
    idx.sort(key=lambda i: -near[i] * placed[i].weight)
    if not idx:
        return ""
    counts = Counter(placed[i].how for i in idx)
    (first, n), *rest = counts.most_common()
    named = [f"“{placed[i].title}”" for i in idx if placed[i].how == first][:SHOWN]
    text = f"like {n} pick{'s' if n > 1 else ''} you {HOW[first].format(T=title)}: {', '.join(named)}"
    for how, m in rest:
        text += f", and {m} you {HOW[how].format(T=title)}"
    return text
