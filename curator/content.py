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
    published: date | None = None
    reading_minutes: int | None = None  # when ingest measured the article


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

    def ordered_for(self, topics: list[str] | tuple[str, ...], only: bool = False) -> tuple[Section, ...]:
        """Sections with the subscriber's topics first (in their order), then the rest (none when `only`)."""
        rank = {name: i for i, name in enumerate(topics)}
        indexed = list(enumerate(self.sections))
        indexed.sort(key=lambda pair: (rank.get(pair[1].topic, len(rank)), pair[0]))
        if only and rank:
            indexed = [pair for pair in indexed if pair[1].topic in rank]
        return tuple(section for _, section in indexed if section.picks)
