"""A small newsroom for curation, editorial and desk tests: three topics, three feeds, real items."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select

from curator import users
from curator.store.schema import feeds, items, now
from curator.store.schema import users as users_table

PASSWORD = "correct horse battery"

FEEDS_YAML = """\
topics:
  - name: career
    title: Career
    description: Getting hired, growing in a role, being paid fairly.
    keywords: [career, interview, job search, salary, promotion]
    exclude: [sponsored]
    quota: 2
  - name: learning
    title: Learning
    description: Tutorials, books and courses worth the time.
    keywords: [learning, course, tutorial, book]
    quota: 2
  - name: leadership
    title: Leadership
    description: Leading people and teams.
    keywords: [leadership, manager, feedback, hiring]
    weight: 1.0
    quota: 1
feeds:
  - url: https://careers.example/feed
    title: Careers Weekly
    weight: 1.5
  - url: https://learn.example/feed
    title: Learn Daily
  - url: https://lead.example/feed
    title: Lead Well
    weight: 0.8
"""

# (feed index, title, summary, age in days)
ITEMS = [
    (0, "How to prepare for a job interview", "Interview questions, salary talk and the job search.", 1),
    (0, "Negotiating your salary after a promotion", "A career guide to salary and promotion talks.", 2),
    (0, "Career change at forty", "Changing career without starting over: a job search plan.", 5),
    (0, "Sponsored: the best career bootcamp", "A sponsored career offer with interview coaching.", 1),
    (1, "A course on learning to learn", "The best course on learning, with a tutorial for each week.", 1),
    (1, "Ten books every engineer should read", "A reading list: each book reviewed, with a tutorial.", 3),
    (1, "Tutorial: spaced repetition in practice", "A practical tutorial on learning with flashcards.", 8),
    (1, "Interview with a learning scientist", "Learning, memory and the course of a career.", 2),
    (2, "Giving feedback as a new manager", "Feedback that helps: a manager's guide to leadership.", 1),
    (2, "Hiring your first engineer", "Hiring, leadership and a manager's first year.", 4),
    (2, "Leadership lessons from a decade of hiring", "Leadership, feedback and hiring lessons.", 6),
    (2, "Gardening tips for the weekend", "Tomatoes and roses.", 1),
]


def write_feeds_yaml(folder: Path) -> Path:
    path = folder / "feeds.yaml"
    path.write_text(FEEDS_YAML, encoding="utf-8")
    return path


def title_key(title: str) -> str:
    return " ".join("".join(ch if ch.isalnum() else " " for ch in title.lower()).split())


def seed(engine: Engine, at: datetime | None = None, rows=ITEMS, prefix: str = "") -> dict[str, int]:
    """Store the three feeds (once) and `rows` as items; returns {title: item id}."""
    at = at or now()
    with engine.begin() as conn:
        known = dict(conn.execute(select(feeds.c.url, feeds.c.id)).all())
        urls = ["https://careers.example/feed", "https://learn.example/feed", "https://lead.example/feed"]
        titles = ["Careers Weekly", "Learn Daily", "Lead Well"]
        weights = [1.5, 1.0, 0.8]
        ids = []
        for url, title, weight in zip(urls, titles, weights, strict=True):
            if url not in known:
                row = conn.execute(insert(feeds).values(url=url, title=title, weight=weight))
                known[url] = row.inserted_primary_key[0]
            ids.append(known[url])
        out = {}
        for feed, title, summary, age in rows:
            slug = f"{feed}-" + title_key(prefix + title).replace(" ", "-")
            out[title] = conn.execute(
                insert(items).values(
                    feed_id=ids[feed], guid=slug, url=f"https://x.example/{slug}", canonical_url=f"https://x.example/{slug}",
                    title=title, title_key=title_key(title), summary_text=summary, summary_html=f"<p>{summary}</p>",
                    published_at=at - timedelta(days=age), first_seen_at=at,
                )
            ).inserted_primary_key[0]
    return out


@cache
def password_hash() -> str:
    """PASSWORD's argon2 hash, computed once: hashing is slow on purpose."""
    return users.hash_password(PASSWORD)


def add_user(conn: Connection, email: str, role: str) -> dict:
    """A user whose password is PASSWORD (users.add_user, minus the deliberate slowness)."""
    conn.execute(insert(users_table).values(email=email, role=role, password_hash=password_hash()))
    return users.get_user(conn, email)
