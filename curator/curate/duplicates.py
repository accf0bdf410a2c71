"""The same story from several sources: near-duplicates found by meaning, not only by identical titles.

Two items are the same story when the cosine of their vectors reaches SAME_STORY. Measured on
the corpus's train part (bench/data/curation/, 465 pages, 107,880 pairs): unrelated pairs have
a median of 0.11 and a 99.99th percentile of 0.80; pages on one subject by different authors
("Delegation for Tech Leads" / "Delegation Strategies for Tech Leads") reach 0.79; the same page
or story seen twice sits from 0.83 to 0.92. The draft keeps the best-scored one and lists the
others' sites as "also covered by".
"""

from __future__ import annotations

from urllib.parse import urlsplit

import numpy as np

from curator import embed

SAME_STORY = 0.82


class Stories:
    """Vectors of the items picked so far, to recognise a candidate that tells one of their stories again."""

    def __init__(self) -> None:
        self._vectors: list[np.ndarray] = []
        self._owners: list[dict | None] = []  # the pick row added in this run, None for an earlier pick

    def add(self, blob: bytes | None, owner: dict | None = None) -> None:
        vector = embed.from_bytes(blob)
        if vector.any():
            self._vectors.append(vector)
            self._owners.append(owner)

    def same_as(self, blob: bytes | None) -> tuple[bool, dict | None]:
        """Whether the item retells a picked story, and the pick added in this run that tells it (if any)."""
        vector = embed.from_bytes(blob)
        if not self._vectors or not vector.any():
            return False, None
        sims = np.stack(self._vectors) @ vector
        best = int(sims.argmax())
        return (True, self._owners[best]) if sims[best] >= SAME_STORY else (False, None)


def also_covered_by(pick: dict, url: str) -> None:
    """Name the site of a near-duplicate on the pick that stays."""
    host = urlsplit(url).hostname or url
    host = host.removeprefix("www.")
    parts = dict(pick["parts"])
    sites = list(parts.get("also_covered_by", []))
    if host not in sites:
        sites.append(host)
    parts["also_covered_by"] = sites
    pick["parts"] = parts
