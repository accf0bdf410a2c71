"""Curation quality: the real pipeline on labelled real pages, beside two baselines and the targets.

    python bench/curation_quality.py [--part test|train] [--json] [--learning] [--update-split]

The corpus is bench/data/curation/pages-*.jsonl (labelling rules in its README). It is split by
source, never by page, so that no site is on both sides: bench/data/curation/split.json lists the
test sources and the train sources, and a source it does not list yet goes to the test part when
the first 8 hex digits of sha256(source) modulo 100 are below 30 (about 30%). `--update-split`
writes newly seen sources into the list, so a source never changes side. Develop on `--part train`
(the default is test: the figures that are reported).

The chosen part is served as RSS feeds, one per source, from a local HTTP server on 127.0.0.2
(thin pages without a description, as their feeds have none); every page is dated inside the
draft window. Then the real command line runs on a fresh SQLite database with the shipped
feeds.yaml's topics and those feeds: `curator db upgrade`, `curator ingest`, `curator draft`,
`curator picks --json`. Per topic and overall it prints:

- precision of the quota picks (the first `quota` picks of each topic: labelled for that topic),
- precision with the spares (every pick),
- the distractor share of the quota picks (pages labelled for no topic at all),
- nDCG@10 of each topic's full ranking (stored item scores; gains 2/1/0 from the labels),

beside the same figures for two rankings of the same stored items: today's ranking (BM25 +
source weight + freshness, `curator.curate.baseline`) and a keyword-count ranker, both assembled
with the same greedy rule (best first, one topic per item, quota plus spares).

`--learning` splits the part in two months by page (sha256 of the URL): month A is served and
drafted first, an editor is replayed on its picks (`curator pick approve` for a pick labelled for
its topic, `curator pick reject` otherwise), then month B is served beside it and drafted, and
the figures are those of month B. With `--moves` the editor moves a pick labelled for another
topic there (`curator pick move`) and approves it, instead of rejecting it. This is a
benchmark, not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curator.curate.baseline import keyword_scores, today_scores  # noqa: E402
from curator.curate.lexical import Doc  # noqa: E402
from curator.ingest.normalize import canonical_url  # noqa: E402
from curator.sources import load_sources  # noqa: E402

DATA = ROOT / "bench" / "data" / "curation"
SPLIT = DATA / "split.json"
TEST_SHARE = 30  # percent of sources
TARGETS = {"precision": 0.85, "distractors": 0.10, "ndcg10": 0.75, "precision_after_learning": 0.90}
HOST = "127.0.0.2"
CURATOR = [sys.executable, "-m", "curator"]
SPARES = 3  # settings.spare_picks's default, for the baselines' assembly


# --- the corpus and its split -----------------------------------------------------------


def load_corpus() -> list[dict]:
    """Every labelled page, first occurrence of each URL kept."""
    pages, seen = [], set()
    for path in sorted(DATA.glob("pages-*.jsonl")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                page = json.loads(line)
            except json.JSONDecodeError as exc:
                sys.exit(f"{path.name}:{n}: not JSON ({exc}); fix the line or run check_corpus.py")
            if page["url"] not in seen:
                seen.add(page["url"])
                pages.append(page)
    return pages


def hashed_side(source: str) -> str:
    return "test" if int(hashlib.sha256(source.encode()).hexdigest()[:8], 16) % 100 < TEST_SHARE else "train"


def split_sides(pages: list[dict], update: bool) -> dict[str, str]:
    """source -> "train" | "test": the committed list first, the hash for sources it lacks."""
    listed = json.loads(SPLIT.read_text()) if SPLIT.exists() else {"train": [], "test": []}
    side = {source: name for name in ("train", "test") for source in listed[name]}
    for page in pages:
        side.setdefault(page["source"], hashed_side(page["source"]))
    if update:
        out = {name: sorted(s for s, n in side.items() if n == name) for name in ("train", "test")}
        SPLIT.write_text(json.dumps(out, indent=1) + "\n")
    return side


def in_part(page: dict, side: dict[str, str], part: str) -> bool:
    """test and train; while developing, train is cut in two by source: fit (2/3) and dev (1/3)."""
    if part in ("test", "train"):
        return side[page["source"]] == part
    if side[page["source"]] != "train":
        return False
    dev = int(hashlib.sha256(("dev:" + page["source"]).encode()).hexdigest()[:8], 16) % 3 == 0
    return dev if part == "dev" else not dev


def url_hash(url: str) -> int:
    return int(hashlib.sha256(url.encode()).hexdigest()[:8], 16)


# --- feeds served from loopback ---------------------------------------------------------


def feed_xml(source: str, pages: list[dict]) -> bytes:
    entries = []
    for page in pages:
        description = "" if page["kind"] == "thin_page" else f"<description>{escape(page['summary'])}</description>"
        entries.append(
            f"<item><title>{escape(page['title'])}</title><link>{escape(page['url'])}</link>"
            f"<guid>{escape(page['url'])}</guid><pubDate>{format_datetime(page['_date'])}</pubDate>"
            f"{description}</item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>{escape(source)}</title>'
        f"<link>https://{escape(source)}/</link><description>{escape(source)}</description>"
        + "".join(entries) + "</channel></rss>"
    ).encode()


class FeedServer:
    """A threaded HTTP server on 127.0.0.2 serving /SOURCE.xml; `bodies` can change between runs."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = bodies.get(self.path.lstrip("/"))
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self.base = f"http://{HOST}:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve(self, pages: list[dict]) -> list[str]:
        """Serve `pages` grouped by source; returns the feed URLs."""
        by_source: dict[str, list[dict]] = defaultdict(list)
        for page in pages:
            by_source[page["source"]].append(page)
        self.bodies.clear()
        for source, group in by_source.items():
            self.bodies[f"{_slug(source)}.xml"] = feed_xml(source, group)
        return [self.base + name for name in sorted(self.bodies)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _slug(source: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", source.lower())


# --- the real pipeline ------------------------------------------------------------------


class Pipeline:
    """The command line on a fresh SQLite database and a feeds.yaml of the shipped topics."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.db = workdir / "quality.db"
        self.feeds_yaml = workdir / "feeds.yaml"
        self.env = {
            **os.environ,
            "CURATOR_DATABASE_URL": f"sqlite:///{self.db}",
            "CURATOR_FEEDS": str(self.feeds_yaml),
            "CURATOR_FETCH_ALLOW_PRIVATE": "true",  # the feeds are on loopback
            "CURATOR_FETCH_ARTICLES": "false",  # the pages are real sites: the benchmark stays offline
            "CURATOR_LOG_JSON": "false",
        }

    def write_feeds(self, urls: list[str]) -> None:
        shipped = (ROOT / "feeds.yaml").read_text()
        topics = shipped[: shipped.index("\nfeeds:")]
        feeds = "".join(f"  - url: {url}\n" for url in urls)
        self.feeds_yaml.write_text(f"{topics}\nfeeds:\n{feeds}")

    def run(self, *args: str, window_days: int = 31) -> str:
        env = {**self.env, "CURATOR_DRAFT_WINDOW_DAYS": str(window_days)}
        done = subprocess.run([*CURATOR, *args], env=env, capture_output=True, text=True, cwd=self.workdir)
        if done.returncode != 0:
            sys.exit(f"`curator {' '.join(args)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def picks(self, period: str) -> list[dict]:
        return json.loads(self.run("picks", period, "--json"))

    def stored(self) -> tuple[list[Doc], dict[int, str], dict[str, dict[int, float]]]:
        """Stored items as scoring sees them, their URLs, and every stored (topic -> item -> score)."""
        conn = sqlite3.connect(self.db)
        try:
            docs, urls = [], {}
            for row in conn.execute(
                "SELECT id, title, summary_text, published_at, feed_id, title_key, url FROM items ORDER BY id"
            ):
                published = datetime.fromisoformat(row[3]).replace(tzinfo=UTC)
                docs.append(Doc(row[0], row[1], row[2], published, row[4], row[5]))
                urls[row[0]] = row[6]
            scores: dict[str, dict[int, float]] = defaultdict(dict)
            for item_id, topic, score in conn.execute("SELECT item_id, topic, score FROM item_scores"):
                scores[topic][item_id] = score
            return docs, urls, scores
        finally:
            conn.close()


# --- measures ---------------------------------------------------------------------------


def grade(page: dict | None, topic: str) -> int:
    return int((page or {}).get("topics", {}).get(topic, 0))


def assemble(scores: dict[str, dict[int, float]], quotas: dict[str, int]) -> dict[str, list[int]]:
    """The draft's greedy rule on plain scores: best first, one topic per item, quota plus spares."""
    order = {name: i for i, name in enumerate(quotas)}
    flat = sorted(
        ((s, item, topic) for topic, by_item in scores.items() for item, s in by_item.items() if s > 0),
        key=lambda x: (-x[0], x[1], order.get(x[2], 99)),
    )
    out: dict[str, list[int]] = {t: [] for t in quotas}
    taken: set[int] = set()
    for _, item, topic in flat:
        if item in taken or topic not in out or len(out[topic]) >= quotas[topic] + SPARES:
            continue
        taken.add(item)
        out[topic].append(item)
    return out


def ndcg10(ranking: list[int], pages: dict[int, dict], topic: str, ideal: list[int]) -> float | None:
    ideal_gains = sorted((g for g in ideal if g), reverse=True)[:10]
    if not ideal_gains:
        return None
    dcg = sum((2 ** grade(pages.get(item), topic) - 1) / math.log2(i + 2) for i, item in enumerate(ranking[:10]))
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal_gains))
    return dcg / idcg


def measure(
    picked: dict[str, list[int]],
    ranking: dict[str, dict[int, float]],
    pages: dict[int, dict],
    quotas: dict[str, int],
) -> dict:
    """Per topic and overall: precision (quota picks, with spares), distractor share, nDCG@10."""
    out: dict = {"topics": {}}
    pool = Counter()
    ndcgs = []
    for topic, quota in quotas.items():
        chosen = picked.get(topic, [])
        quota_picks = chosen[:quota]
        good = sum(grade(pages.get(i), topic) > 0 for i in quota_picks)
        good_all = sum(grade(pages.get(i), topic) > 0 for i in chosen)
        junk = sum(not (pages.get(i) or {}).get("topics") for i in quota_picks)
        order = sorted(ranking.get(topic, {}).items(), key=lambda x: (-x[1], x[0]))
        nd = ndcg10([i for i, s in order if s > 0], pages, topic, [grade(p, topic) for p in pages.values()])
        out["topics"][topic] = {
            "quota_picks": len(quota_picks),
            "precision": _ratio(good, len(quota_picks)),
            "precision_spares": _ratio(good_all, len(chosen)),
            "distractors": _ratio(junk, len(quota_picks)),
            "ndcg10": None if nd is None else round(nd, 3),
        }
        pool.update(n=len(quota_picks), good=good, all=len(chosen), good_all=good_all, junk=junk)
        if nd is not None:
            ndcgs.append(nd)
    out["overall"] = {
        "quota_picks": pool["n"],
        "precision": _ratio(pool["good"], pool["n"]),
        "precision_spares": _ratio(pool["good_all"], pool["all"]),
        "distractors": _ratio(pool["junk"], pool["n"]),
        "ndcg10": round(sum(ndcgs) / len(ndcgs), 3) if ndcgs else None,
    }
    return out


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


# --- one run ----------------------------------------------------------------------------


def date_pages(pages: list[dict], now: datetime, first_day: int, days: int) -> None:
    """Give each page a publication time `first_day`..`first_day + days` days ago, by its URL's hash."""
    for page in pages:
        h = url_hash(page["url"])
        page["_date"] = now - timedelta(days=first_day + h % days, hours=1 + h % 13)


def period_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def figures(pipe: Pipeline, period: str, pages: list[dict], quotas: dict[str, int], now: datetime) -> dict:
    """The curator's figures for `period`, and both baselines' on the same stored items."""
    picks = pipe.picks(period)
    docs, urls, stored = pipe.stored()
    by_url = {}
    for page in pages:
        by_url[page["url"]] = page
        by_url[canonical_url(page["url"]) or page["url"]] = page
    by_item = {item: by_url.get(url) or by_url.get(canonical_url(url) or url) for item, url in urls.items()}
    wanted = {id(p) for p in pages}
    labelled = {item: page for item, page in by_item.items() if page is not None and id(page) in wanted}
    docs = [d for d in docs if d.id in labelled]
    picked: dict[str, list[int]] = defaultdict(list)
    for pick in sorted(picks, key=lambda p: (p["topic"], p["rank"])):
        picked[pick["topic"]].append(pick["item"])
    stored = {t: {i: s for i, s in by_item_score.items() if i in labelled} for t, by_item_score in stored.items()}
    sources = load_sources(pipe.feeds_yaml)
    today = today_scores(docs, sources.topics, now=now)
    keywords = keyword_scores(docs, sources.topics)
    return {
        "curator": measure(picked, stored, labelled, quotas),
        "today": measure(assemble(today, quotas), today, labelled, quotas),
        "keyword_count": measure(assemble(keywords, quotas), keywords, labelled, quotas),
        "items": len(docs),
        "picks": picks,
        "labelled": labelled,
        "rankings": {t: sorted(by.items(), key=lambda x: (-x[1], x[0]))[:10] for t, by in stored.items()},
        "titles": {d.id: d.title for d in docs},
    }


def run_cold(pages: list[dict], workdir: Path, now: datetime) -> dict:
    server = FeedServer()
    try:
        date_pages(pages, now, 0, 25)
        pipe = Pipeline(workdir)
        pipe.write_feeds(server.serve(pages))
        pipe.run("db", "upgrade")
        pipe.run("ingest", "--json")
        period = period_of(now + timedelta(days=20))
        pipe.run("draft", period)
        quotas = {t.name: t.quota for t in load_sources(pipe.feeds_yaml).topics}
        return figures(pipe, period, pages, quotas, now)
    finally:
        server.close()


def run_learning(pages: list[dict], workdir: Path, now: datetime, moves: bool = False) -> dict:
    month_a = [p for p in pages if url_hash(p["url"]) % 2 == 0]
    month_b = [p for p in pages if url_hash(p["url"]) % 2 == 1]
    server = FeedServer()
    try:
        date_pages(month_a, now, 32, 25)
        date_pages(month_b, now, 0, 25)
        pipe = Pipeline(workdir)
        pipe.write_feeds(server.serve(month_a))
        pipe.run("db", "upgrade")
        pipe.run("ingest", "--json")
        period_b = period_of(now + timedelta(days=20))
        period_a = period_of(datetime(int(period_b[:4]), int(period_b[5:]), 1, tzinfo=UTC) - timedelta(days=1))
        pipe.run("draft", period_a, window_days=60)
        known = set(load_sources(pipe.feeds_yaml).topic_names)
        replayed = Counter()
        for pick in pipe.picks(period_a):
            page = next((p for p in month_a if canonical_url(p["url"]) == pick["url"] or p["url"] == pick["url"]), None)
            decision = "approve" if grade(page, pick["topic"]) > 0 else "reject"
            better = max((page or {}).get("topics", {}).items(), key=lambda kv: (kv[1], kv[0]), default=None)
            if decision == "reject" and moves and better and better[1] > 0 and better[0] in known:
                pipe.run("pick", "move", str(pick["id"]), better[0])
                decision = "approve"
                replayed["move"] += 1
            pipe.run("pick", decision, str(pick["id"]))
            replayed[decision] += 1
        # Month B's feeds still list month A's pages, as real feeds would for a while.
        pipe.write_feeds(server.serve(month_a + month_b))
        pipe.run("ingest", "--json")
        pipe.run("draft", period_b, window_days=31)
        quotas = {t.name: t.quota for t in load_sources(pipe.feeds_yaml).topics}
        out = figures(pipe, period_b, month_b, quotas, now)
        out["replayed"] = dict(replayed)
        return out
    finally:
        server.close()


# --- report -----------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:5.2f}"


def report(result: dict, part: str, learning: bool) -> None:
    title = f"Curation quality on the {part} part ({result['items']} labelled items served"
    title += ", month B after a replayed month A)" if learning else ")"
    print(title)
    if learning:
        print(f"replayed decisions on month A: {result['replayed']}")
    head = f"{'topic':22} {'':14} {'prec@quota':>10} {'prec+spares':>11} {'distract':>9} {'nDCG@10':>8}"
    print(head)
    print("-" * len(head))
    topics = list(result["curator"]["topics"])
    for topic in [*topics, "overall"]:
        for name in ("curator", "today", "keyword_count"):
            row = result[name]["overall"] if topic == "overall" else result[name]["topics"][topic]
            print(
                f"{topic if name == 'curator' else '':22} {name:14} {fmt(row['precision']):>10} "
                f"{fmt(row['precision_spares']):>11} {fmt(row['distractors']):>9} {fmt(row['ndcg10']):>8}"
            )
    overall = result["curator"]["overall"]
    if learning:
        print(f"target after one month: precision >= {TARGETS['precision_after_learning']} "
              f"(measured {fmt(overall['precision']).strip()})")
    else:
        print(
            f"targets (cold): precision >= {TARGETS['precision']} (measured {fmt(overall['precision']).strip()}), "
            f"distractors <= {TARGETS['distractors']} (measured {fmt(overall['distractors']).strip()}), "
            f"nDCG@10 >= {TARGETS['ndcg10']} (measured {fmt(overall['ndcg10']).strip()})"
        )


def show_picks(result: dict) -> None:
    """Every pick with its label, to see what goes wrong (develop on the train part only)."""
    for pick in sorted(result["picks"], key=lambda p: (p["topic"], p["rank"])):
        page = result["labelled"].get(pick["item"]) or {}
        mark = "ok " if grade(page, pick["topic"]) else "BAD"
        print(f"{mark} {pick['topic'][:12]:12} {pick['rank']:2} {pick['score']:6.2f} {page.get('kind', '?'):13} "
              f"{pick['title'][:70]}")


def show_rankings(result: dict) -> None:
    """Each topic's top 10 with grades (develop on the train part only)."""
    for topic, top in result["rankings"].items():
        print(f"== {topic}")
        for item, score in top:
            page = result["labelled"].get(item) or {}
            print(f"  {grade(page, topic)} {score:6.2f} {page.get('kind', '?'):13} {result['titles'][item][:80]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("test", "train", "fit", "dev"), default="test",
                        help="which part to serve (test); fit and dev cut train in two for development")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    parser.add_argument("--learning", action="store_true", help="replay an editor on month A, measure month B")
    parser.add_argument("--moves", action="store_true",
                        help="with --learning: move a pick labelled for another topic there, instead of rejecting it")
    parser.add_argument("--update-split", action="store_true", help="record newly seen sources in split.json")
    parser.add_argument("--show-picks", action="store_true", help="list every pick with its label")
    parser.add_argument("--show-rankings", action="store_true", help="list each topic's top 10 with grades")
    parser.add_argument("--keep", action="store_true", help="keep the working folder (database, feeds.yaml)")
    args = parser.parse_args()
    pages = load_corpus()
    side = split_sides(pages, args.update_split)
    chosen = [dict(p) for p in pages if in_part(p, side, args.part)]
    if not chosen:
        sys.exit(f"no labelled pages in the {args.part} part: see {DATA}")
    workdir = Path(tempfile.mkdtemp(prefix="curator-quality-"))
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        result = run_learning(chosen, workdir, now, args.moves) if args.learning else run_cold(chosen, workdir, now)
    finally:
        if args.keep:
            print(f"working folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report(result, args.part, args.learning)
    if args.show_picks:
        show_picks(result)
    if args.show_rankings:
        show_rankings(result)
    if args.json:
        figures_only = {k: result[k] for k in ("curator", "today", "keyword_count", "items")}
        figures_only.update(part=args.part, learning=args.learning, targets=TARGETS)
        if args.learning:
            figures_only["replayed"] = result["replayed"]
        print(json.dumps(figures_only))


if __name__ == "__main__":
    main()
