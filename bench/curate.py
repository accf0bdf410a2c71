"""Curation benchmark: score N stored items against 8 topics and assemble a draft issue.

    python bench/curate.py [--items 100000] [--runs 3] [--quick] [--json]

Generates synthetic but realistic items (titles and summaries mixing topic words with everyday
vocabulary, a few near-duplicates, some off-topic) from 200 feeds over the last 30 days, stores
them with their vectors in a temporary SQLite database (not timed: ingest embeds), then times
what `curator draft` does: score every item for every topic (BM25, meaning, page kind,
taste...), store the scores, and pick the candidates. The peer is bm25s indexing the same items'
titles and summaries (from memory) and scoring the 8 topics' keyword queries against every item;
the ratio is Curator's whole draft (every score part, the assembly, the diversity rules) over
the peer's time. Each timed part runs --runs times (the draft on a fresh copy of the database)
and the median is reported with its spread. Figures are printed beside their targets; this is
not a test.
With --json, the last line is one JSON object: items, topics, seconds, peer_seconds, ratio (and more).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select  # noqa: E402

from bench import _common  # noqa: E402
from curator import embed, pagekind, store  # noqa: E402
from curator.config import Settings  # noqa: E402
from curator.curate import build_draft  # noqa: E402
from curator.sources import Sources  # noqa: E402
from curator.store.schema import feeds, item_scores, items, now, picks  # noqa: E402

TARGET_S = 5.0  # on this machine only; the ratio to the peer is what travels
TARGET_RATIO = 3.0
FEEDS = 200
TOPICS = {
    "career": ["career", "job search", "interview", "resume", "promotion", "salary", "negotiation", "mentor"],
    "software-engineering": ["software design", "refactoring", "testing", "code review", "debugging",
                             "distributed systems", "database", "observability"],
    "machine-learning": ["machine learning", "deep learning", "neural network", "llm", "transformer",
                         "embeddings", "inference", "dataset"],
    "leadership": ["leadership", "engineering manager", "one-on-one", "feedback", "delegation", "hiring",
                   "team culture", "strategy"],
    "productivity": ["productivity", "focus", "deep work", "time management", "burnout", "planning",
                     "procrastination", "workflow"],
    "learning": ["learning", "tutorial", "course", "book", "reading list", "spaced repetition", "study",
                 "fundamentals"],
    "personal-growth": ["personal growth", "habits", "mindset", "mental models", "resilience", "wellbeing",
                        "gratitude", "purpose"],
    "communication": ["writing", "public speaking", "presentation", "storytelling", "documentation",
                      "meetings", "email", "persuasion"],
}
EXCLUDE = ["sponsored", "giveaway", "coupon"]
_WORDS = (
    "the a of and to in for on with how why what when your our from about after before without this that "
    "week year team people work life time lessons notes guide story ideas practice thoughts field report "
    "small big better simple hard honest quiet slow fast new old first last real modern practical useful "
    "engineer developer designer founder student teacher writer reader company startup project product "
    "change growth progress mistake success failure question answer problem solution tool method system "
    "morning evening weekend remote office city home travel coffee garden music history science nature"
)
WORDS = _WORDS.split()
FORMS = ["{w} {k}", "{k}: {w} {w} {w}", "what {w} {w} taught me about {k}", "a {w} guide to {k} and {k2}",
         "{n} {w} {w} on {k}", "{w} {w}: {k} in {w}"]


def sources() -> Sources:
    return Sources.model_validate({
        "topics": [
            {"name": name, "description": f"Articles on {' and '.join(words[:3])}.", "keywords": words,
             "exclude": EXCLUDE, "quota": 5}
            for name, words in TOPICS.items()
        ],
        "feeds": [{"url": f"https://blog{i}.example.org/feed", "weight": round(0.5 + (i % 7) / 4, 2)}
                  for i in range(FEEDS)],
    })


def generate(n: int, seed: int = 1) -> list[dict]:
    """`n` items: mostly on one topic, some on two, some on none, a few near-duplicates."""
    rng = random.Random(seed)
    names = list(TOPICS)
    start = now()
    rows = []
    for i in range(n):
        topic = rng.choice(names)
        keys = TOPICS[topic] + (TOPICS[rng.choice(names)] if rng.random() < 0.3 else [])
        off_topic = rng.random() < 0.15
        k, k2 = (rng.choice(WORDS), rng.choice(WORDS)) if off_topic else (rng.choice(keys), rng.choice(keys))
        title = rng.choice(FORMS).format(w=rng.choice(WORDS), k=k, k2=k2, n=rng.randint(3, 12))
        title = " ".join(part if "{" not in part else "" for part in title.split()).capitalize()
        body = rng.choices(WORDS, k=rng.randint(25, 60))
        if not off_topic:
            for _ in range(rng.randint(1, 3)):
                body.insert(rng.randrange(len(body)), rng.choice(keys))
        if rng.random() < 0.02:
            body.append(rng.choice(EXCLUDE))
        if i and rng.random() < 0.01:
            title = rows[rng.randrange(len(rows))]["title"]  # the same story in another feed
        rows.append({
            "feed_id": rng.randrange(FEEDS) + 1,
            "guid": f"item-{i}",
            "url": f"https://blog.example.org/posts/{i}",
            "canonical_url": f"https://blog.example.org/posts/{i}",
            "title": title,
            "title_key": " ".join(title.lower().replace(":", " ").split()),
            "summary_text": " ".join(body).capitalize() + ".",
            "summary_html": "",
            "published_at": start - timedelta(minutes=rng.randint(0, 30 * 24 * 60)),
            "first_seen_at": start,
        })
    return rows


def peer(rows: list[dict], srcs: Sources) -> float:
    """bm25s: index the items' titles and summaries, then score every topic's keyword query; seconds."""
    import bm25s

    texts = [f"{r['title']} {r['summary_text']}" for r in rows]
    began = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    for topic in srcs.topics:
        query = bm25s.tokenize(" ".join(topic.keywords), stopwords="en", return_ids=False, show_progress=False)[0]
        retriever.get_scores(query)
    return time.perf_counter() - began


def draft_once(template: Path, folder: Path, srcs: Sources, run: int) -> dict:
    """`curator draft` on a fresh copy of the stored items; its figures."""
    path = folder / f"run{run}.db"
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    engine = store.make_engine(url)
    settings = Settings(database_url=url, secret_key="bench-secret-key-0123456789-abcdefgh")
    began, cpu_began = time.perf_counter(), time.process_time()
    result = build_draft(engine, settings, srcs, "2031-01", actor="bench")
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    with engine.connect() as conn:
        scores = conn.execute(select(func.count()).select_from(item_scores)).scalar_one()
        chosen = conn.execute(select(func.count()).select_from(picks)).scalar_one()
    engine.dispose()
    path.unlink()
    return {"seconds": seconds, "cpu_seconds": cpu, "scores": scores, "candidates": chosen,
            "scored_items": result.scored_items}  # fmt: skip


def main() -> None:
    parser = _common.parser(__doc__)
    parser.add_argument("--items", type=int, default=100_000, help="items to generate (default 100,000)")
    args = parser.parse_args()
    if args.quick:
        args.items, args.runs = 3_000, 1

    with tempfile.TemporaryDirectory(prefix="curator-bench-") as folder:
        template = Path(folder) / "bench.db"
        engine = store.make_engine(f"sqlite:///{template}")
        store.upgrade(engine)
        srcs = sources()
        began = time.perf_counter()
        rows = generate(args.items)
        # Ingest stores each item's vector and page kind; a draft only reads them.
        vectors = embed.embed([embed.item_text(r["title"], r["summary_text"]) for r in rows])
        kinds = pagekind.predict([(r["url"], r["title"], r["summary_text"]) for r in rows], vectors)
        for row, vector, (name, confidence, value) in zip(rows, vectors, kinds, strict=True):
            row.update(embedding=embed.to_bytes(vector), kind=name, kind_confidence=confidence, kind_value=value,
                       kind_version=pagekind.version())
        with engine.begin() as conn:
            conn.execute(insert(feeds), [{"url": f.url, "title": f"Blog {i}", "weight": f.weight}
                                         for i, f in enumerate(srcs.feeds)])
            conn.execute(insert(items), rows)
        engine.dispose()
        generated = time.perf_counter() - began
        print(f"generated and stored {len(rows):,} items from {FEEDS} feeds in {generated:.1f} s (not counted)")
        drafts = [draft_once(template, Path(folder), srcs, run) for run in range(args.runs)]
    peers = [peer(rows, srcs) for _ in range(args.runs)]
    load = os.getloadavg()[0]
    seconds = statistics.median(d["seconds"] for d in drafts)
    draft = sorted(drafts, key=lambda d: d["seconds"])[len(drafts) // 2]
    peer_seconds = statistics.median(peers)
    ratio = seconds / peer_seconds
    spread = _common.spread([d["seconds"] for d in drafts])
    print(f"scored {draft['scored_items']:,} items × {len(srcs.topics)} topics → {draft['scores']:,} scores, "
          f"{draft['candidates']} candidates; median of {args.runs} run(s)")
    print(_common.figure("draft / bm25s peer", ratio, "", f"<= {TARGET_RATIO:g}", ratio <= TARGET_RATIO,
                         f"(draft {seconds:.2f} s on this machine, spread {spread:.0%}; "
                         f"peer {peer_seconds:.2f} s, spread {_common.spread(peers):.0%})"))  # fmt: skip
    print(f"  scoring + draft on this machine: {seconds:.2f} s (≤ {TARGET_S:g} s on an idle 2-core machine); "
          f"this process's CPU {draft['cpu_seconds']:.2f} s; load average {load:.1f} on {os.cpu_count()} cores"
          + (" (other work is slowing the wall time)" if load > (os.cpu_count() or 1) else ""))
    if args.json:
        print(json.dumps({"items": len(rows), "topics": len(srcs.topics), "seconds": round(seconds, 3),
                          "cpu_seconds": round(draft["cpu_seconds"], 3), "load_average": round(load, 2),
                          "scores": draft["scores"], "candidates": draft["candidates"], "target_seconds": TARGET_S,
                          "peer_seconds": round(peer_seconds, 3), "ratio": round(ratio, 3),
                          "target_ratio": TARGET_RATIO, "runs": args.runs,
                          "seconds_runs": [round(d["seconds"], 3) for d in drafts],
                          "peer_seconds_runs": [round(p, 3) for p in peers]}))  # fmt: skip


if __name__ == "__main__":
    main()
