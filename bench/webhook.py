"""Webhook benchmark: signed posts of 1,000 SendGrid events, 4 at a time, to a real `curator serve`.

    python bench/webhook.py [--events 200000] [--runs 3] [--quick] [--json] [--only sqlite|postgres]

The events are a send's aftermath as SendGrid posts it: processed, delivered, open, click,
bounce and spamreport for the issue's subscribers, naming the send's batches, with 10% repeats
(SendGrid delivers at least once). Each post is signed with a key made for the run
(CURATOR_SENDGRID_WEBHOOK_PUBLIC_KEY is set for the server), 4 posts are in flight at a time,
and `curator serve` (uvicorn, in its own process) verifies, stores and applies them on SQLite,
then on PostgreSQL (a bench database created and dropped on 127.0.0.1:5432).

The ceiling is the same rows inserted into the same database with no app between: one
executemany per 1,000 rows through the bare driver (INSERT ... ON CONFLICT DO NOTHING).
`max_post_seconds` is the slowest answer to a 1,000-event post while a `curator worker` sends
the issue to the subscribers (through the loopback SendGrid server). Setting up is not
timed; the events table, suppressions and statuses are reset between runs. Figures are
printed beside the targets; this is not a test. With --json, the last line is one JSON object.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, delete, func, insert, select, text, update  # noqa: E402

from bench import _common  # noqa: E402
from bench.send import PERIOD, PG_ADMIN, Server, run_workers, seed_issue, seed_postgres, seed_sqlite  # noqa: E402
from bench.send import worker_env as send_env  # noqa: E402
from curator import deliver, store  # noqa: E402
from curator.store.schema import events, issues, now, send_batches, subscribers, suppressions  # noqa: E402

TARGETS = {"events_per_s": 20_000, "ratio": 0.30, "max_post_seconds": 1.0}
POST_SIZE = 1000
IN_FLIGHT = 4
REPEATS = 0.10
MIX = (("processed", 30), ("delivered", 29), ("open", 25), ("click", 12), ("bounce", 3), ("spamreport", 1))
BATCHES = 1000  # batch keys the events name: a million-recipient send's


class Signer:
    """SendGrid's side of the signed Event Webhook: an ECDSA P-256 key made for this run."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        self._key = ec.generate_private_key(ec.SECP256R1())
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        stamp = str(int(time.time()))
        signature = self._key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
            "Content-Type": "application/json",
        }


# --- the events ------------------------------------------------------------------------------


def make_posts(count: int, subscribers_n: int, keys: list[str], tag: str, seed: int = 13) -> list[list[dict]]:
    """`count` events in posts of 1,000: the realistic mix, 10% of them repeats of earlier ones."""
    rng = random.Random(seed)
    kinds = [k for k, weight in MIX for _ in range(weight)]
    sent: list[dict] = []
    posts: list[list[dict]] = []
    post: list[dict] = []
    stamp = int(time.time()) - 3600
    for n in range(count):
        if sent and rng.random() < REPEATS:
            post.append(rng.choice(sent))
        else:
            kind = rng.choice(kinds)
            i = rng.randrange(subscribers_n)
            event = {"email": f"reader{i}@example.com", "event": kind, "timestamp": stamp + n // 100,
                     "sg_event_id": f"{tag}-{n}-{uuid.uuid4().hex[:12]}", "sg_message_id": f"msg-{i // 1000}",
                     "issue": PERIOD, "batch": keys[i % len(keys)], "delivery": str(i + 1)}  # fmt: skip
            if kind == "bounce":
                event |= {"type": "bounce", "reason": "550 5.1.1 The email account that you tried to reach "
                          "does not exist", "status": "5.1.1"}  # fmt: skip
            elif kind in ("open", "click"):
                event |= {"useragent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "ip": "203.0.113.7"}
                if kind == "click":
                    event["url"] = f"https://news.example.org/r/{i % 21}"
            elif kind == "delivered":
                event["response"] = "250 2.0.0 OK"
            post.append(event)
            sent.append(event)
        if len(post) == POST_SIZE:
            posts.append(post)
            post = []
    return posts + ([post] if post else [])


# --- the app and the client --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """`curator serve` on a free loopback port, in its own process."""

    def __init__(self, database_url: str, public_key: str) -> None:
        self.port = _free_port()
        self.env = {
            **os.environ, "CURATOR_DATABASE_URL": database_url,
            "CURATOR_SECRET_KEY": "bench-secret-key-0123456789-abcdefgh",
            "CURATOR_BASE_URL": "https://news.example.org", "CURATOR_FEEDS": str(REPO / "feeds.yaml"),
            "CURATOR_SENDGRID_WEBHOOK_PUBLIC_KEY": public_key,
        }  # fmt: skip

    def __enter__(self) -> App:
        self.log = tempfile.TemporaryFile()  # the server's errors, shown when a post fails
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "curator", "serve", "--port", str(self.port)], env=self.env, cwd=REPO,
            stdout=subprocess.DEVNULL, stderr=self.log,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"curator serve exited with {self.proc.returncode} before listening") from None
                time.sleep(0.2)
        raise SystemExit("curator serve did not answer /healthz within 60 s")

    def __exit__(self, exc_type, *exc) -> None:
        self.proc.terminate()
        self.proc.wait()
        if exc_type is not None:
            self.log.seek(0)
            errors = [line for line in self.log.read().decode(errors="replace").splitlines() if "INFO" not in line]
            print("curator serve said:\n" + "\n".join(errors[-40:]), file=sys.stderr)
        self.log.close()

    def peak_rss_mb(self) -> float:
        from bench.send import _vm_hwm_kb

        return round(_vm_hwm_kb(self.proc.pid) / 1024, 1)


def post_all(port: int, signed: list[tuple[bytes, dict[str, str]]]) -> tuple[float, list[float], dict[str, int]]:
    """Post every body, 4 in flight, each thread on its own keep-alive connection; wall s, latencies, totals."""
    local = threading.local()
    totals = {"received": 0, "new": 0, "duplicates": 0}
    lock = threading.Lock()

    def one(item: tuple[bytes, dict[str, str]]) -> float:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        body, headers = item
        start = time.perf_counter()
        local.conn.request("POST", "/webhooks/sendgrid", body=body, headers=headers)
        response = local.conn.getresponse()
        answer = response.read()
        took = time.perf_counter() - start
        if response.status != 200:
            raise SystemExit(f"the webhook answered {response.status}: {answer[:300]!r}")
        counts = json.loads(answer)
        with lock:
            for k in totals:
                totals[k] += counts[k]
        return took

    start = time.perf_counter()
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        latencies = list(pool.map(one, signed))
    return time.perf_counter() - start, latencies, totals


def sign_all(signer: Signer, posts: list[list[dict]]) -> list[tuple[bytes, dict[str, str]]]:
    bodies = [json.dumps(p).encode() for p in posts]
    return [(b, signer.headers(b)) for b in bodies]


# --- the database ---------------------------------------------------------------------------------


def seed(engine, subscribers_n: int, postgres: bool) -> list[str]:
    """The issue, its subscribers and the accepted batches that the events name."""
    seed_issue(engine)
    (seed_postgres if postgres else seed_sqlite)(engine, subscribers_n)
    keys = [uuid.uuid4().hex for _ in range(BATCHES)]
    with engine.begin() as conn:
        issue_id = conn.execute(select(issues.c.id).where(issues.c.period == PERIOD)).scalar_one()
        conn.execute(insert(send_batches), [
            {"key": k, "issue_id": issue_id, "state": "accepted", "size": 1000, "lease_until": now(),
             "finished_at": now(), "response_status": 202} for k in keys
        ])  # fmt: skip
    return keys


def reset(engine) -> None:
    """Back to before the events: none stored, nobody suppressed, everyone active."""
    with engine.begin() as conn:
        conn.execute(delete(events))
        conn.execute(delete(suppressions))
        conn.execute(update(subscribers).where(subscribers.c.status != "active").values(status="active"))


def stored(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(events)).scalar_one()


def ceiling(engine, posts: list[list[dict]], issue_id: int) -> float:
    """Events/s of one executemany per post of the same rows through the bare driver, no app between."""
    postgres = engine.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    sql = (f"INSERT INTO events (sg_event_id, event, email, issue_id, batch_key, occurred_at, received_at, payload) "
           f"VALUES ({', '.join([mark] * 8)}) ON CONFLICT (sg_event_id) DO NOTHING")  # fmt: skip

    def stamp(seconds: float | None):
        moment = datetime.fromtimestamp(seconds, UTC) if seconds is not None else datetime.now(UTC)
        return moment.replace(tzinfo=None) if postgres else moment.isoformat(sep=" ")

    chunks = [[(e["sg_event_id"], e["event"], e["email"], issue_id, e["batch"], stamp(e["timestamp"]), stamp(None),
                json.dumps(e)) for e in post] for post in posts]  # fmt: skip
    raw = engine.raw_connection()
    try:
        start = time.perf_counter()
        for rows in chunks:
            cur = raw.cursor()
            if not postgres:
                cur.execute("BEGIN IMMEDIATE")
            cur.executemany(sql, rows)
            raw.commit()
            cur.close()
        seconds = time.perf_counter() - start
    finally:
        raw.close()
    return sum(len(p) for p in posts) / seconds


# --- one database -------------------------------------------------------------------------------


def bench_database(url: str, args, signer: Signer) -> dict:
    engine = store.make_engine(url)
    postgres = engine.dialect.name == "postgresql"
    try:
        store.upgrade(engine)
        keys = seed(engine, args.subscribers, postgres)
        with engine.connect() as conn:
            issue_id = conn.execute(select(issues.c.id).where(issues.c.period == PERIOD)).scalar_one()
        posts = make_posts(args.events, args.subscribers, keys, "bench")
        unique = len({e["sg_event_id"] for p in posts for e in p})
        with App(url, signer.public_key) as app:

            def once() -> dict:
                reset(engine)
                signed = sign_all(signer, posts)
                seconds, latencies, totals = post_all(app.port, signed)
                return {"seconds": round(seconds, 3), "events_per_s": round(totals["received"] / seconds),
                        "stored": stored(engine), "slowest_post_s": round(max(latencies), 3), **totals}  # fmt: skip

            result = _common.repeat(args.runs, once, "events_per_s")
            result["unique_events"] = unique

            def ceiling_once() -> dict:
                reset(engine)
                return {"events_per_s": round(ceiling(engine, posts, issue_id))}

            roof = _common.repeat(args.runs, ceiling_once, "events_per_s")
            result["ceiling_events_per_s"] = roof["events_per_s"]
            result["ceiling_events_per_s_runs"] = roof["events_per_s_runs"]
            result["ratio"] = round(result["events_per_s"] / roof["events_per_s"], 3)
            reset(engine)
            result["during_send"] = during_send(engine, url, app, signer, args, keys)
            result["server_peak_rss_mb"] = app.peak_rss_mb()
        result["load"] = _common.load()
        return result
    finally:
        engine.dispose()


def during_send(engine, url: str, app: App, signer: Signer, args, keys: list[str]) -> dict:
    """The slowest answer to a 1,000-event post while a worker sends the issue to every subscriber."""
    workers = 2 if engine.dialect.name == "postgresql" else 1
    posts = make_posts(args.events, args.subscribers, keys, "during", seed=29)
    signed = sign_all(signer, posts)
    latencies: list[float] = []
    with Server() as server:
        deliver.start(engine, PERIOD, "bench")
        done = threading.Event()
        failure: list[BaseException] = []

        def send() -> None:
            try:
                run_workers(workers, send_env(url, server, REPO / "feeds.yaml"))
            except BaseException as exc:  # noqa: BLE001 - reported below, after the posts stop
                failure.append(exc)
            finally:
                done.set()

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        position = 0
        while not done.is_set() and position < len(signed):
            _, took, _ = post_all(app.port, signed[position:position + IN_FLIGHT])
            latencies += took
            position += IN_FLIGHT
        sender.join()
        sent = server.call("GET", "/_stats")["recipients"]
    if failure:
        raise SystemExit(f"the send during the webhook posts failed: {failure[0]}")
    return {"posts": len(latencies), "max_post_seconds": round(max(latencies), 3) if latencies else None,
            "recipients_sent": sent, "workers": workers}  # fmt: skip


def bench_postgres(args, signer: Signer) -> dict:
    from sqlalchemy.engine import make_url

    name = f"curator_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        return bench_database(make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False), args, signer)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="events posted per run (default 200,000)")
    parser.add_argument("--subscribers", type=int, default=100_000, help="subscribers the events are about")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="run one database only")
    args = parser.parse_args()
    if args.quick:
        args.events, args.subscribers, args.runs = 4_000, 2_000, 1
    signer = Signer()
    result: dict = {"events": args.events, "post_size": POST_SIZE, "in_flight": IN_FLIGHT, "targets": TARGETS,
                    "runs": args.runs}  # fmt: skip
    if args.only != "postgres":
        with tempfile.TemporaryDirectory(prefix="curator-bench-") as folder:
            result["sqlite"] = bench_database(f"sqlite:///{folder}/bench.db", args, signer)
    if args.only != "sqlite":
        result["postgres"] = bench_postgres(args, signer)
    sends = [result[db]["during_send"]["max_post_seconds"] for db in ("sqlite", "postgres") if db in result]
    result["max_post_seconds"] = max((s for s in sends if s is not None), default=None)
    report(result)
    if args.json:
        print(json.dumps(result))
    return 0


def report(result: dict) -> None:
    print(f"webhook benchmark: {result['events']:,} events in posts of {POST_SIZE:,}, {IN_FLIGHT} in flight, "
          f"median of {result['runs']} run(s)")  # fmt: skip
    for name in ("sqlite", "postgres"):
        if name not in result:
            continue
        r = result[name]
        print(f" {name} ({r['load']}): {r['stored']:,} events stored of {r['unique_events']:,} unique, "
              f"spread {r['events_per_s_spread']:.0%}, ceiling {r['ceiling_events_per_s']:,} events/s, "
              f"server peak RSS {r['server_peak_rss_mb']:.0f} MB")  # fmt: skip
        print(_common.figure("events/s stored", r["events_per_s"], "events/s", f">= {TARGETS['events_per_s']:,}",
                             r["events_per_s"] >= TARGETS["events_per_s"]))  # fmt: skip
        print(_common.figure("ratio to the ceiling", r["ratio"], "", f">= {TARGETS['ratio']}",
                             r["ratio"] >= TARGETS["ratio"]))  # fmt: skip
        s = r["during_send"]
        if s["max_post_seconds"] is not None:
            worst, limit = s["max_post_seconds"], TARGETS["max_post_seconds"]
            note = f"({s['posts']} posts while {s['workers']} worker(s) sent {s['recipients_sent']:,})"
            print(_common.figure("slowest post while a send runs", worst, "s", f"<= {limit}", worst <= limit, note))

if __name__ == "__main__":
    raise SystemExit(main())
