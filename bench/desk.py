"""Desk benchmark: how fast the desk answers an action with its fragments, on an issue of 30 picks.

    python bench/desk.py [--picks 30] [--rounds 3] [--json]

Builds a SQLite database with one issue of N suggested picks over three topics (not timed),
signs an editor in, then times each htmx request the way the browser sends it: approve or
reject every pick (the answer re-renders the pick's topic, the quota bar and the counts),
then one reorder per topic. The figures are printed beside the target; this is not a test.
With --json, the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

from curator import editorial, store, users  # noqa: E402
from curator.config import Settings  # noqa: E402
from curator.store.schema import feeds, items, now, picks  # noqa: E402
from curator.web import create_app  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

TARGET_MEDIAN_MS, TARGET_P95_MS = 100, 250
TOPICS = ("career", "learning", "leadership")
FEEDS_YAML = "topics:\n" + "".join(
    f"  - name: {t}\n    title: {t.title()}\n    description: {t}\n    keywords: [{t}]\n    quota: 7\n" for t in TOPICS
) + "feeds:\n  - url: https://bench.example/feed\n"


def build(folder: Path, count: int) -> tuple[Settings, list[int]]:
    url = f"sqlite:///{folder / 'desk.db'}"
    engine = store.make_engine(url)
    store.upgrade(engine)
    (folder / "feeds.yaml").write_text(FEEDS_YAML, encoding="utf-8")
    ids = []
    with engine.begin() as conn:
        feed = conn.execute(insert(feeds).values(url="https://bench.example/feed", title="Bench"))
        feed = feed.inserted_primary_key[0]
        issue = editorial.ensure_issue(conn, "2026-12", "bench")
        for n in range(count):
            item = conn.execute(insert(items).values(
                feed_id=feed, guid=str(n), url=f"https://bench.example/{n}", canonical_url=f"https://bench.example/{n}",
                title=f"Pick number {n} about {TOPICS[n % 3]}", title_key=f"pick {n}", summary_text="A summary. " * 20,
                summary_html="", published_at=now() - timedelta(days=n % 9),
            )).inserted_primary_key[0]
            ids.append(conn.execute(insert(picks).values(
                issue_id=issue["id"], item_id=item, topic=TOPICS[n % 3], rank=n // 3 + 1, score=1.0,
                parts={"matched": [TOPICS[n % 3]], "relevance": 1.0}, decision="suggested",
            )).inserted_primary_key[0])
        users.add_user(conn, "bench@example.org", "editor", "bench password 123")
    engine.dispose()
    settings = Settings(database_url=url, secret_key="bench-secret-key-0123456789-abcdefgh", base_url="https://bench.example",
                        feeds=folder / "feeds.yaml", outbox_dir=folder / "outbox")
    return settings, ids


def run(count: int, rounds: int) -> dict:
    timings: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings, ids = build(Path(tmp), count)
        with TestClient(create_app(settings), base_url="https://bench.example") as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
            client.post("/login", data={"email": "bench@example.org", "password": "bench password 123",
                                        "csrf_token": token}, follow_redirects=False)
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/desk/2026-12").text).group(1)
            headers = {"HX-Request": "true"}
            for round_ in range(rounds):
                for n, pick_id in enumerate(ids):
                    decision = ("rejected" if n % 5 == 4 else "approved") if round_ % 2 == 0 else "suggested"
                    started = time.perf_counter()
                    answer = client.post(f"/desk/2026-12/picks/{pick_id}/decision", headers=headers,
                                         data={"decision": decision, "csrf_token": token})
                    timings.append(time.perf_counter() - started)
                    assert answer.status_code == 200 and "hx-swap-oob" in answer.text, answer.text[:300]
                for topic in TOPICS:
                    mine = [pid for n, pid in enumerate(ids) if TOPICS[n % 3] == topic][::-1]
                    started = time.perf_counter()
                    answer = client.post(f"/desk/2026-12/topics/{topic}/order", headers=headers,
                                         data={"order": [str(p) for p in mine], "csrf_token": token})
                    timings.append(time.perf_counter() - started)
                    assert answer.status_code == 200, answer.text[:300]
    ms = sorted(t * 1000 for t in timings)
    return {
        "picks": count, "requests": len(ms), "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 1), "max_ms": round(ms[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--picks", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.picks, args.rounds)
    print(f"{result['requests']} desk actions on an issue of {result['picks']} picks (SQLite, in process):")
    print(f"  median {result['median_ms']} ms (target <= {TARGET_MEDIAN_MS} ms), "
          f"p95 {result['p95_ms']} ms (target <= {TARGET_P95_MS} ms), max {result['max_ms']} ms")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
