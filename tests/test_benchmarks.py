"""Every benchmark runs end to end with --quick, so none of them rots (no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("CURATOR_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _postgres_reachable() -> bool:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure to connect means: not here
        return False
    finally:
        engine.dispose()


def _run(script: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, f"bench/{script}", "--quick", "--json", *args], cwd=REPO, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, f"bench/{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def databases() -> tuple[str, ...]:
    if _postgres_reachable():
        return ("sqlite", "postgres")
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN}")
    return ("sqlite",)


def _only(databases: tuple[str, ...]) -> list[str]:
    return [] if len(databases) == 2 else ["--only", "sqlite"]


def test_webhook_benchmark_stores_every_event_once(databases):
    result = _run("webhook.py", *_only(databases))
    for db in databases:
        figures = result[db]
        assert figures["events_per_s"] > 0 and figures["ratio"] > 0
        assert figures["stored"] == figures["unique_events"]  # every event stored once, repeats not
        assert figures["duplicates"] == figures["received"] - figures["unique_events"] > 0
        # Bounces and complaints posted during the send skip their addresses: fewer than 2,000 go out.
        assert 0 < figures["during_send"]["recipients_sent"] <= 2_000
        assert figures["during_send"]["posts"] > 0
    assert result["max_post_seconds"] > 0


def test_send_benchmark_sends_everyone_once(databases):
    result = _run("send.py", *_only(databases))
    assert result["ceiling_recipients_per_s"] > 0
    for db in databases:
        figures = result[db]
        assert figures["ledger_sent"] == figures["recipients"] == result["subscribers"]
        assert figures["duplicates"] == 0 and figures["issue_status"] == "sent"
        assert figures["ratio"] > 0 and 0 < figures["freeze_share"] < 1 and figures["peak_rss_mb"] > 0


def test_ingest_benchmark_compares_with_its_peer():
    result = _run("ingest.py", "--vector-cost")
    assert result["peer_s"] > 0 and result["cold_ratio"] > 0 and result["warm_ratio"] > 0
    assert result["items_per_s"] > 0
    # The network floor: measured (the same fetches, bodies dropped) and in arithmetic (no CPU at all).
    assert 0 < result["floor_arithmetic_s"] <= result["floor_cold_s"] and result["floor_warm_ratio"] > 0
    assert result["cold_without_vectors_s"] > 0 and "vector_cost" in result


def test_curate_benchmark_compares_with_bm25s():
    result = _run("curate.py")
    assert result["peer_seconds"] > 0 and result["ratio"] > 0
    assert result["candidates"] > 0
