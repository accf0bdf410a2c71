"""The offline example feeds of `curator demo`: RSS, Atom and JSON Feed files written to a folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import yaml


@dataclass(frozen=True)
class Entry:
    title: str
    slug: str
    summary: str


@dataclass(frozen=True)
class DemoFeed:
    name: str
    title: str
    site: str
    kind: str  # rss | atom | json
    topics: tuple[str, ...]
    entries: tuple[Entry, ...]


FEEDS = (
    DemoFeed("career-compass", "Career Compass", "https://career-compass.example", "rss", ("career",), (
        Entry("How to negotiate your salary without burning bridges", "negotiate-salary",
              "A step-by-step guide to salary negotiation: research the market, anchor with data, and "
              "ask for a raise or a better offer while keeping the relationship with your manager."),
        Entry("Preparing for the behavioral interview", "behavioral-interview",
              "The STAR method, stories from your career, and how to answer questions about conflict, "
              "failure and promotion decisions in a job interview."),
        Entry("Writing a resume that gets you hired", "resume-that-gets-hired",
              "Recruiters skim a resume in seconds. Lead with impact, quantify results, and tailor it "
              "to each job search."),
        Entry("Should you switch careers into tech?", "switch-careers",
              "A career change at 35: what transferred, what I had to learn, and how the job hunt went."),
        Entry("The promotion packet: making your impact visible", "promotion-packet",
              "Promotion to senior engineer is about evidence. Keep a brag document and talk to your manager early."),
    )),
    DemoFeed("engineering-notes", "Engineering Notes", "https://engineering-notes.example", "atom",
             ("software-engineering",), (
        Entry("Refactoring a legacy codebase safely", "refactoring-legacy",
              "Characterization tests, small steps and continuous integration: refactoring software "
              "architecture without stopping feature work."),
        Entry("What makes a good code review", "good-code-review",
              "Code review is a conversation. Review for design, testing and readability, not style nits."),
        Entry("Debugging distributed systems with tracing", "debugging-tracing",
              "Observability for microservices: logs, metrics and distributed tracing to debug latency."),
        Entry("Testing pyramids are a lie: test what matters", "testing-what-matters",
              "Unit tests, integration tests and end-to-end tests each have a job in software testing."),
        Entry("Designing APIs that last", "designing-apis",
              "Versioning, backwards compatibility and documentation: API design lessons from ten years "
              "of software engineering."),
    )),
    DemoFeed("ml-digest", "ML Digest", "https://ml-digest.example", "json", ("machine-learning",), (
        Entry("A gentle introduction to transformers", "intro-transformers",
              "Attention, embeddings and training: how transformer neural networks and large language "
              "models work, with code."),
        Entry("Evaluating LLM applications", "evaluating-llm-apps",
              "Building an evaluation dataset for an LLM application, and why your machine learning model "
              "needs more than accuracy."),
        Entry("Feature engineering still matters", "feature-engineering",
              "Data science beyond deep learning: feature engineering, gradient boosting and model "
              "evaluation on tabular data."),
        Entry("From notebook to production ML", "notebook-to-production",
              "MLOps for small teams: training pipelines, model serving and monitoring drift."),
    )),
    DemoFeed("lead-well", "Lead Well", "https://lead-well.example", "rss", ("leadership",), (
        Entry("Your first 90 days as an engineering manager", "first-90-days",
              "Moving from engineer to engineering manager: one-on-ones, hiring, and building trust with your team."),
        Entry("Giving feedback that people can use", "feedback-people-can-use",
              "Leadership is feedback: specific, timely and kind. A framework for managers and tech leads."),
        Entry("Running effective one-on-ones", "effective-one-on-ones",
              "The one-on-one meeting belongs to your report. Questions for coaching, career growth and "
              "mentoring."),
        Entry("Delegation for new leaders", "delegation",
              "Delegation is how a team lead scales: decide what to hand off, and how to follow up."),
    )),
    DemoFeed("deep-focus", "Deep Focus", "https://deep-focus.example", "atom", ("productivity",), (
        Entry("Deep work in a world of notifications", "deep-work",
              "Protect your focus: time blocking, batching email, and habits for deep work."),
        Entry("A weekly review that sticks", "weekly-review",
              "Getting things done with a weekly review: planning, priorities and a calm task list."),
        Entry("Avoiding burnout as a high performer", "avoiding-burnout",
              "Burnout is not a productivity problem. Rest, boundaries and habits that restore energy."),
    )),
    DemoFeed("learning-lab", "Learning Lab", "https://learning-lab.example", "json", ("learning",), (
        Entry("How to learn a new programming language fast", "learn-language-fast",
              "Deliberate practice, small projects and spaced repetition: learning a new language in a month."),
        Entry("The best free online courses this year", "free-online-courses",
              "A curated list of free online courses and tutorials on computer science, design and writing."),
        Entry("Reading papers without a PhD", "reading-papers",
              "A method for reading research papers: three passes, notes, and a study group."),
        Entry("Books every engineer should read", "books-for-engineers",
              "Ten books on software, learning and thinking, with a one-line reason for each."),
    )),
    DemoFeed("inner-game", "The Inner Game", "https://inner-game.example", "rss", ("personal-growth",), (
        Entry("Building habits that survive a bad week", "habits-bad-week",
              "Self-improvement without willpower: tiny habits, identity, and a plan for the days it goes wrong."),
        Entry("Journaling for clarity", "journaling-for-clarity",
              "A ten-minute journaling practice for reflection, gratitude and better decisions."),
        Entry("Confidence is a skill you can practise", "confidence-skill",
              "Mindset, resilience and small exposures: how confidence grows with practice."),
    )),
    DemoFeed("weekly-mix", "The Weekly Mix", "https://weekly-mix.example", "atom",
             ("career", "software-engineering", "leadership"), (
        Entry("Staff engineer: the role nobody explains", "staff-engineer-role",
              "What a staff engineer does all day: technical leadership, architecture reviews and mentoring, "
              "and how to get promoted into the role."),
        Entry("Postmortems without blame", "blameless-postmortems",
              "Incident reviews that teach: a template for blameless postmortems in software teams."),
        Entry("Hiring engineers: a structured interview loop", "structured-interview-loop",
              "Hiring managers: design the interview loop, calibrate interviewers and make fair offers."),
        Entry("Pair programming, revisited", "pair-programming",
              "When pair programming and mob programming help a team ship better code, and when they do not."),
    )),
)


def write_demo_feeds(folder: Path, now: datetime) -> list[dict]:
    """Write every demo feed into `folder`; return their feeds.yaml entries."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = []
    for index, feed in enumerate(FEEDS):
        dated = [
            (entry, now - timedelta(days=1 + 2 * i + index % 2, hours=index)) for i, entry in enumerate(feed.entries)
        ]
        text, suffix = {"rss": (_rss, "xml"), "atom": (_atom, "atom"), "json": (_json, "json")}[feed.kind]
        path = folder / f"{feed.name}.{suffix}"
        path.write_text(text(feed, dated), encoding="utf-8")
        sources.append({"url": path.resolve().as_uri(), "title": feed.title, "topics": list(feed.topics)})
    return sources


def write_demo_sources(path: Path, topics_from: Path, feeds: list[dict]) -> None:
    """A feeds.yaml for the demo: the shipped topics, the demo feeds."""
    topics = yaml.safe_load(topics_from.read_text(encoding="utf-8"))["topics"]
    path.write_text(
        "# Written by `curator demo`: the shipped topics and the offline example feeds.\n"
        + yaml.safe_dump({"topics": topics, "feeds": feeds}, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )


def _link(feed: DemoFeed, entry: Entry) -> str:
    return f"{feed.site}/posts/{entry.slug}?utm_source=demo"


def _rss(feed: DemoFeed, dated: list[tuple[Entry, datetime]]) -> str:
    items = "".join(
        f"<item><title>{escape(e.title)}</title><link>{escape(_link(feed, e))}</link>"
        f"<guid isPermaLink=\"false\">{feed.name}-{e.slug}</guid>"
        f"<pubDate>{format_datetime(when)}</pubDate>"
        f"<description>{escape('<p>' + escape(e.summary) + '</p>')}</description></item>"
        for e, when in dated
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(feed.title)}</title><link>{feed.site}</link>"
        f"<description>{escape(feed.title)}</description>{items}</channel></rss>\n"
    )


def _atom(feed: DemoFeed, dated: list[tuple[Entry, datetime]]) -> str:
    entries = "".join(
        f"<entry><title>{escape(e.title)}</title><link rel=\"alternate\" href=\"{escape(_link(feed, e))}\"/>"
        f"<id>tag:{feed.name},2026:{e.slug}</id><updated>{when.isoformat()}</updated>"
        f"<published>{when.isoformat()}</published>"
        f"<summary type=\"html\">{escape('<p>' + escape(e.summary) + '</p>')}</summary></entry>"
        for e, when in dated
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(feed.title)}</title><link href=\"{feed.site}\"/><id>{feed.site}/</id>"
        f"<updated>{dated[0][1].isoformat()}</updated>{entries}</feed>\n"
    )


def _json(feed: DemoFeed, dated: list[tuple[Entry, datetime]]) -> str:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": feed.title,
            "home_page_url": feed.site,
            "items": [
                {"id": f"{feed.name}-{e.slug}", "url": _link(feed, e), "title": e.title,
                 "content_html": f"<p>{escape(e.summary)}</p>", "date_published": when.isoformat()}
                for e, when in dated
            ],
        },
        indent=2,
    )
