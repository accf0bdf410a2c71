"""Validate the labelled curation corpus: every pages-*.jsonl beside this file.

Usage: python bench/data/curation/check_corpus.py [FILE ...]

Checks each line is a JSON object with the required fields, allowed kinds and
topics, grades 1 or 2, real-looking URLs, summaries of 15-50 words, no duplicate
URL (across all files), at least 45% distractors and at most 15 pages per source
within a file. Stdlib only; exit status 1 when anything is wrong.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

TOPICS = {
    "career",
    "software-engineering",
    "machine-learning",
    "leadership",
    "productivity",
    "learning",
    "personal-growth",
}
GENUINE_KINDS = {"article", "tutorial", "essay", "talk"}
DISTRACTOR_KINDS = {
    "job_posting",
    "release_notes",
    "product_page",
    "press_release",
    "deal",
    "event_promo",
    "roundup",
    "thin_page",
    "spam",
    "keyword_trap",
}
FIELDS = {"url", "title", "source", "summary", "topics", "kind", "published", "found_by"}
MIN_DISTRACTOR_SHARE = 0.45
MAX_PER_SOURCE = 15
MAX_KNOWN_SHARE = 0.20
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_entry(obj: object) -> list[str]:
    """Return what is wrong with one entry (empty when it is fine)."""
    if not isinstance(obj, dict):
        return ["not a JSON object"]
    errors = []
    missing, extra = FIELDS - obj.keys(), obj.keys() - FIELDS
    if missing:
        errors.append(f"missing fields {sorted(missing)}")
    if extra:
        errors.append(f"unknown fields {sorted(extra)}")
    url = obj.get("url", "")
    parts = urlsplit(url) if isinstance(url, str) else None
    if not parts or parts.scheme not in ("http", "https") or not parts.hostname:
        errors.append(f"url {url!r} is not an absolute http(s) URL")
    elif obj.get("source") != parts.hostname.removeprefix("www."):
        errors.append(f"source {obj.get('source')!r} is not the URL's host without www.")
    if not isinstance(obj.get("title"), str) or not obj["title"].strip():
        errors.append("title is empty")
    words = len(str(obj.get("summary", "")).split())
    if not 15 <= words <= 50:
        errors.append(f"summary has {words} words; write 15-50")
    kind, topics = obj.get("kind"), obj.get("topics")
    if kind not in GENUINE_KINDS | DISTRACTOR_KINDS:
        errors.append(f"kind {kind!r} is not one of {sorted(GENUINE_KINDS | DISTRACTOR_KINDS)}")
    if not isinstance(topics, dict):
        errors.append("topics must be an object {topic: grade}")
    else:
        for name, grade in topics.items():
            if name not in TOPICS:
                errors.append(f"unknown topic {name!r}")
            if grade not in (1, 2):
                errors.append(f"grade {grade!r} for {name} must be 1 or 2")
        if kind in DISTRACTOR_KINDS and topics:
            errors.append(f"a {kind} is a distractor and must have topics {{}}")
    published = obj.get("published")
    if published is not None and not (isinstance(published, str) and DATE.match(published)):
        errors.append(f"published {published!r} must be YYYY-MM-DD or null")
    if obj.get("found_by") not in ("search", "known"):
        errors.append("found_by must be 'search' or 'known'")
    return errors


def check_file(path: Path, seen_urls: dict[str, str]) -> list[str]:
    """Check one JSONL file; seen_urls carries URLs across files."""
    errors, entries = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: not valid JSON ({exc})")
            continue
        errors += [f"{where}: {e}" for e in check_entry(obj)]
        if isinstance(obj, dict):
            url = obj.get("url")
            if url in seen_urls:
                errors.append(f"{where}: duplicate URL {url} (first at {seen_urls[url]})")
            seen_urls[url] = where
            entries.append(obj)
    if not entries:
        return errors + [f"{path.name}: no entries"]
    distractors = sum(1 for e in entries if not e.get("topics"))
    share = distractors / len(entries)
    if share < MIN_DISTRACTOR_SHARE:
        errors.append(f"{path.name}: {share:.0%} distractors; need at least {MIN_DISTRACTOR_SHARE:.0%}")
    known = sum(1 for e in entries if e.get("found_by") == "known") / len(entries)
    if known > MAX_KNOWN_SHARE:
        errors.append(f"{path.name}: {known:.0%} found_by 'known'; at most {MAX_KNOWN_SHARE:.0%}")
    for source, count in Counter(e.get("source") for e in entries).items():
        if count > MAX_PER_SOURCE:
            errors.append(f"{path.name}: {count} pages from {source}; at most {MAX_PER_SOURCE}")
    return errors


def summary(path: Path) -> str:
    """One line of counts for a file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    kinds = Counter(e["kind"] for e in entries)
    topics = Counter(t for e in entries for t in e["topics"])
    distractors = sum(1 for e in entries if not e["topics"])
    return (
        f"{path.name}: {len(entries)} entries, {distractors} distractors "
        f"({distractors / max(len(entries), 1):.0%}), "
        f"{len({e['source'] for e in entries})} sources; topics {dict(sorted(topics.items()))}; "
        f"kinds {dict(sorted(kinds.items()))}"
    )


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    paths = [Path(a) for a in argv] or sorted(here.glob("pages-*.jsonl"))
    if not paths:
        print(f"no pages-*.jsonl files in {here}", file=sys.stderr)
        return 1
    seen: dict[str, str] = {}
    errors = [e for p in paths for e in check_file(p, seen)]
    for line in errors:
        print(line, file=sys.stderr)
    for p in paths:
        # a file with broken lines was already reported above; skip its counts
        with contextlib.suppress(json.JSONDecodeError, KeyError):
            print(summary(p))
    print("OK" if not errors else f"{len(errors)} problems", file=sys.stderr if errors else sys.stdout)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
