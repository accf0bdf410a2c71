"""What every benchmark shares: --runs/--quick/--json, the median and spread of a timed part, figures beside targets."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any


def parser(doc: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="times to run each timed part (default 3): median and spread")
    p.add_argument("--quick", action="store_true", help="a small smoke run: checks the benchmark works, not speed")
    p.add_argument("--json", action="store_true", help="end with one JSON line")
    return p


def repeat(runs: int, once: Callable[[], dict[str, Any]], key: str) -> dict[str, Any]:
    """Run `once` `runs` times; the run with the median `key`, plus that key's every value and spread."""
    results = [once() for _ in range(max(1, runs))]
    values = [r[key] for r in results]
    middle = sorted(results, key=lambda r: r[key])[len(results) // 2]
    return {**middle, f"{key}_runs": values, f"{key}_spread": spread(values)}


def spread(values: list[float]) -> float:
    """(max - min) / median: how far apart the runs were, as a share of the median."""
    med = statistics.median(values)
    return round((max(values) - min(values)) / med, 3) if med else 0.0


def load() -> str:
    """The load average when a figure was taken: the machine is shared, so figures move with it."""
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


def figure(label: str, value: float, unit: str, target: str, met: bool, extra: str = "") -> str:
    mark = "ok" if met else "MISSED"
    return f"  {label:38} {value:>12,.3f} {unit:12} target {target:16} {mark:6} {extra}".rstrip()


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start
