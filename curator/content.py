"""What an issue says, as the renderer sees it: plain data, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# The variant key of "only my topics" is only:career,learning; of all topics, theirs first, career,learning.
ONLY_PREFIX = "only:"


@dataclass(frozen=True)
class PickView:
    title: str
    url: str
    summary_text: str = ""
    blurb: str = ""
    source: str = ""
    pick_id: int = 0  # the picks row; 0 (hand-made content) gets no tracked or feedback links
    published: date | None = None
    reading_minutes: int | None = None  # from the article's word count, when it was read


@dataclass(frozen=True)
class Section:
    topic: str  # the topic's name (slug)
    title: str  # its display title
    picks: tuple[PickView, ...] = ()


@dataclass(frozen=True)
class IssueContent:
    period: str  # YYYY-MM
    subject: str
    preheader: str = ""
    intro: str = ""
    sections: tuple[Section, ...] = field(default_factory=tuple)
    featured: PickView | None = None  # the editors' pick of the month: first, for every subscriber

    def ordered_for(self, topics: list[str] | tuple[str, ...], only: bool = False) -> tuple[Section, ...]:
        """Sections with the subscriber's topics first (in their order), then the rest (none when `only`)."""
        rank = {name: i for i, name in enumerate(topics)}
        indexed = list(enumerate(self.sections))
        indexed.sort(key=lambda pair: (rank.get(pair[1].topic, len(rank)), pair[0]))
        if only and rank:
            indexed = [pair for pair in indexed if pair[1].topic in rank]
        return tuple(section for _, section in indexed if section.picks)

    def pick_ids(self) -> list[int]:
        """The ids of the picks that have them (those get per-recipient tracked and feedback links)."""
        return [pick.pick_id for section in self.sections for pick in section.picks if pick.pick_id]
