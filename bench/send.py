"""Send benchmark: N subscribers over 12 topic sets, sent through a loopback SendGrid server.

    python bench/send.py [--subscribers 1000000] [--runs 3] [--quick] [--json] [--only sqlite|postgres]

The SendGrid-compatible server runs in its own process (`python -m curator.testing.sendgrid_server
--no-validate`: it counts recipients and duplicates). For SQLite one `curator worker`
process sends; for PostgreSQL (a bench database created and dropped on 127.0.0.1:5432)
two do. Setting up the subscribers is not timed; the timed part is what `curator send`
does: freeze the audience into the ledger, then claim, render, post and record every
batch until the issue is sent. Peak memory is each worker's high-water mark (VmHWM,
sampled, and as the worker exits). The baseline is what one writes first: one
request per recipient with the `sendgrid` library's Mail helper, timed on 5,000 and
scaled. The ceiling is the plain library posting pre-built bodies (1,000 personalizations
each, as Curator's requests) to the same server from one process: no database, no rendering.
It is measured again just before each send, and each send's ratio is its recipients/s over
that ceiling's (the machine's speed drifts between runs); the median ratio is reported. The
shared rate limits are set far above the figures, so that they measure Curator, not the
configured rate. Each timed part runs --runs times (the ledger is emptied between sends) and
the median is reported with its spread. Figures are printed beside the targets; this is not a
test. With --json, the last line is one JSON object.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, delete, func, insert, select, text, update  # noqa: E402

from bench import _common  # noqa: E402
from curator import deliver, editorial, store  # noqa: E402
from curator.store.schema import deliveries, feeds, issues, items, now, picks, send_batches, subscribers  # noqa: E402

# seconds: per 1,000,000 subscribers, on this machine only; the ratios are what travel.
TARGETS = {"ratio": 0.60, "freeze_share": 0.15, "peak_rss_mb": 150.0, "seconds": 60.0}
CEILING_RECIPIENTS = 200_000  # posted by the ceiling per run (a rate: more would only take longer)
PERIOD = "2026-05"
API_KEY = "SG.bench"
TOPICS = ("career", "software-engineering", "machine-learning", "leadership", "productivity", "learning",
          "personal-growth")  # fmt: skip
PG_ADMIN = os.environ.get("CURATOR_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BASELINE_SAMPLE = 5000


def topic_sets(count: int = 12) -> list[list[str]]:
    combos = [list(c) for r in (1, 2, 3) for c in itertools.combinations(TOPICS, r)]
    return combos[:count]


# --- setup (not timed) ---------------------------------------------------------------------


def seed_issue(engine) -> None:
    """An approved issue with three picks per topic."""
    with engine.begin() as conn:
        issue = editorial.ensure_issue(conn, PERIOD, "bench")
        feed_id = conn.execute(insert(feeds).values(url="https://feeds.example.org/bench.xml", title="Bench Feed")
                               ).inserted_primary_key[0]  # fmt: skip
        for topic in TOPICS:
            for rank in range(1, 4):
                url = f"https://example.org/{topic}/{rank}"
                item_id = conn.execute(insert(items).values(
                    feed_id=feed_id, guid=url, url=url, canonical_url=url, title=f"A good read on {topic} #{rank}",
                    title_key=f"a good read on {topic} {rank}", published_at=now(),
                    summary_text=f"Why {topic} matters, and what to do about it this month. " * 3,
                )).inserted_primary_key[0]  # fmt: skip
                conn.execute(insert(picks).values(issue_id=issue["id"], item_id=item_id, topic=topic, rank=rank,
                                                  decision="approved", blurb=f"Pick {rank} for {topic}."))
        editorial.transition(conn, PERIOD, "approved", "bench")


def subscriber_rows(n: int):
    sets = topic_sets()
    stamp = now()
    for i in range(n):
        yield (f"reader{i}@example.com", f"Reader {i}" if i % 3 else "", sets[i % len(sets)], stamp)


def seed_sqlite(engine, n: int) -> None:
    chunk = []
    for email, name, topics, stamp in subscriber_rows(n):
        chunk.append({"email": email, "name": name, "topics": topics, "status": "active", "created_at": stamp,
                      "confirmed_at": stamp, "source": "bench"})  # fmt: skip
        if len(chunk) == 50_000:
            with engine.begin() as conn:
                conn.execute(insert(subscribers), chunk)
            chunk = []
    if chunk:
        with engine.begin() as conn:
            conn.execute(insert(subscribers), chunk)


def seed_postgres(engine, n: int) -> None:
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur, cur.copy(
            "COPY subscribers (email, name, topics, status, created_at, confirmed_at, source) FROM STDIN"
        ) as copy:
            for email, name, topics, stamp in subscriber_rows(n):
                stamp = stamp.replace(tzinfo=None)
                copy.write_row((email, name, json.dumps(topics), "active", stamp, stamp, "bench"))
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE subscribers"))


# --- the server and the workers ---------------------------------------------------------------


class Server:
    """`python -m curator.testing.sendgrid_server --no-validate` in its own process."""

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "curator.testing.sendgrid_server", "--no-validate", "--api-key", API_KEY],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO,
        )  # fmt: skip
        self.url = self.proc.stdout.readline().split()[-1]
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait()
        self.proc.stdout.close()

    def call(self, method: str, path: str) -> dict:
        request = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else {}


def worker_env(database_url: str, server: Server, feeds_path: Path) -> dict[str, str]:
    return {
        **os.environ, "CURATOR_DATABASE_URL": database_url, "CURATOR_SECRET_KEY": "bench-secret-key-0123456789-abcdef",
        "CURATOR_FEEDS": str(feeds_path), "CURATOR_BASE_URL": "https://news.example.org",
        "CURATOR_DELIVERY": "sendgrid", "CURATOR_SENDGRID_API_KEY": API_KEY, "CURATOR_SENDGRID_HOST": server.url,
        "CURATOR_SENDGRID_TIMEOUT": "120", "CURATOR_SEND_LEASE_SECONDS": "300",
        "CURATOR_SEND_RATE_REQUESTS": "100000", "CURATOR_SEND_RATE_RECIPIENTS": "1000000000",
    }  # fmt: skip


# Each worker reports its own high-water mark (VmHWM) as it exits. Not the kernel's ru_maxrss: a
# child's counts the pages it shared with this process between fork and exec, so it reports this
# benchmark's size (a million subscribers seeded) rather than the worker's.
PEAK_PROBE = (
    "import atexit, runpy, sys\n"
    "out = sys.argv.pop(1)\n"
    "def peak():\n"
    "    hwm = next(line for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
    "    open(out, 'w').write(hwm.split()[1])\n"
    "atexit.register(peak)\n"
    "sys.argv[0] = 'curator'\n"
    "runpy.run_module('curator', run_name='__main__', alter_sys=True)\n"
)


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_workers(count: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Start `count` `curator worker` processes, wait for all; their peak RSS in MB and CPU seconds."""
    folder = Path(tempfile.mkdtemp(prefix="curator-bench-peaks-"))
    outs = [folder / f"worker{i}.kb" for i in range(count)]
    procs = [subprocess.Popen([sys.executable, "-c", PEAK_PROBE, str(out), "worker", "--period", PERIOD], env=env,
                              cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for out in outs]  # fmt: skip
    peaks = {p.pid: 0 for p in procs}
    cpu = {p.pid: 0.0 for p in procs}
    errors = {p.pid: b"" for p in procs}

    def drain(p) -> None:
        errors[p.pid] = p.stderr.read()

    readers = [threading.Thread(target=drain, args=(p,), daemon=True) for p in procs]
    for r in readers:
        r.start()
    running = set(peaks)
    while running:
        for pid in list(running):
            peaks[pid] = max(peaks[pid], _vm_hwm_kb(pid))  # after exec: the worker's own address space
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                running.discard(pid)
                cpu[pid] = usage.ru_utime + usage.ru_stime
                proc = next(p for p in procs if p.pid == pid)
                proc.returncode = os.waitstatus_to_exitcode(status)
        time.sleep(0.1)
    for r in readers:
        r.join()
    for p, out in zip(procs, outs, strict=True):
        p.stderr.close()
        if p.returncode:
            raise SystemExit(f"worker {p.pid} exited with {p.returncode}:\n{errors[p.pid].decode(errors='replace')}")
        peaks[p.pid] = max(peaks[p.pid], int(out.read_text()))  # its last word: the high-water mark at exit
        out.unlink()
    folder.rmdir()
    return [round(peaks[p.pid] / 1024, 1) for p in procs], [round(cpu[p.pid], 1) for p in procs]


def timed_send(engine, database_url: str, server: Server, workers: int) -> dict:
    """Freeze the audience and send it with `workers` processes; the figures of the run."""
    server.call("POST", "/_reset")
    start = time.perf_counter()
    deliver.start(engine, PERIOD, "bench")
    frozen = time.perf_counter() - start
    peaks, cpu = run_workers(workers, worker_env(database_url, server, REPO / "feeds.yaml"))
    seconds = time.perf_counter() - start
    stats = server.call("GET", "/_stats")
    with engine.connect() as conn:
        sent = conn.execute(select(func.count()).where(deliveries.c.state == "sent")).scalar_one()
        status = editorial.get_issue(conn, PERIOD)["status"]
    return {
        "workers": workers, "seconds": round(seconds, 2), "recipients": stats["recipients"],
        "recipients_per_s": round(stats["recipients"] / seconds), "requests": stats["requests"],
        "duplicates": stats["duplicates"], "peak_rss_mb": max(peaks), "peak_rss_mb_per_worker": peaks,
        "ledger_sent": sent, "issue_status": status, "freeze_s": round(frozen, 2), "worker_cpu_s": cpu,
        "freeze_share": round(frozen / seconds, 3),
    }  # fmt: skip


def unsend(engine) -> None:
    """Back to an approved issue with an empty ledger, for the next run (not timed)."""
    with engine.begin() as conn:
        conn.execute(delete(deliveries))
        conn.execute(delete(send_batches))
        conn.execute(update(issues).where(issues.c.period == PERIOD).values(status="approved"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE deliveries"))


def repeated_send(engine, url: str, server: Server, workers: int, runs: int, ceiling: Callable[[], dict]) -> dict:
    """`runs` sends, each beside a ceiling measured just before it: its ratio is to that ceiling.

    This machine's speed drifts (the ceiling alone has moved from 37,000 to 97,000 recipients/s
    between sessions, and by a third within one): a ceiling taken minutes earlier, before the
    other database's runs, would measure the drift as much as the send.
    """

    ceilings, rates = [], []

    def once() -> dict:
        unsend(engine)
        ceilings.append(ceiling()["recipients_per_s"])
        run = timed_send(engine, url, server, workers)
        rates.append(run["recipients_per_s"])
        return {**run, "ceiling_recipients_per_s": ceilings[-1], "ratio": round(rates[-1] / ceilings[-1], 3)}

    result = _common.repeat(runs, once, "ratio")  # the run with the median ratio
    result.update(load=_common.load(), ceiling_recipients_per_s_runs=ceilings, recipients_per_s_runs=rates,
                  recipients_per_s_spread=_common.spread(rates))  # fmt: skip
    return result


def bench_sqlite(n: int, server: Server, runs: int, ceiling: Callable[[], dict]) -> dict:
    with tempfile.TemporaryDirectory(prefix="curator-bench-") as folder:
        url = f"sqlite:///{folder}/bench.db"
        engine = store.make_engine(url)
        try:
            store.upgrade(engine)
            seed_issue(engine)
            seed_sqlite(engine, n)
            return repeated_send(engine, url, server, 1, runs, ceiling)
        finally:
            engine.dispose()


def bench_postgres(n: int, server: Server, runs: int, ceiling: Callable[[], dict]) -> dict:
    from sqlalchemy.engine import make_url

    name = f"curator_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    engine = store.make_engine(url)
    try:
        store.upgrade(engine)
        seed_issue(engine)
        seed_postgres(engine, n)
        return repeated_send(engine, url, server, 2, runs, ceiling)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _bench_content():
    from curator.content import IssueContent, PickView, Section

    return IssueContent(PERIOD, "Growth resources for May 2026", sections=tuple(
        Section(t, t.title(), tuple(PickView(f"A good read on {t} #{r}", f"https://example.org/{t}/{r}",
                                             f"Why {t} matters. " * 3) for r in (1, 2, 3)))
        for t in TOPICS))  # fmt: skip


def _bench_settings(server: Server):
    from curator.config import Settings

    return Settings(secret_key="bench-secret-key-0123456789-abcdefgh", base_url="https://news.example.org",
                    sendgrid_api_key=API_KEY, sendgrid_host=server.url)  # fmt: skip


def bench_baseline(server: Server, sample: int) -> float:
    """One request per recipient with the plain library and its Mail helper: recipients per second."""
    from sendgrid import SendGridAPIClient
    from sendgrid.helpers.mail import Mail

    from curator import render

    settings = _bench_settings(server)
    body = render.render_variant(_bench_content(), list(TOPICS[:2]), settings)
    client = SendGridAPIClient(API_KEY, host=server.url)
    client.client.timeout = 30
    server.call("POST", "/_reset")
    start = time.perf_counter()
    for i in range(sample):
        person = {"id": i + 1, "email": f"base{i}@example.com", "name": f"Reader {i}"}
        copy = render.personalize(body, render.recipient_values(settings, person))
        mail = Mail(from_email="newsletter@example.com", to_emails=person["email"], subject=copy.subject,
                    html_content=copy.html, plain_text_content=copy.text)  # fmt: skip
        client.send(mail)
    return round(sample / (time.perf_counter() - start))


def ceiling_bodies(server: Server, count: int = 20) -> list[dict]:
    """`count` request bodies of 1,000 personalizations each, built as Curator builds them (not timed)."""
    from curator import render
    from curator.deliver.backends import BatchMessage, Recipient
    from curator.deliver.sendgrid import batch_body

    settings = _bench_settings(server)
    body = render.render_variant(_bench_content(), list(TOPICS[:2]), settings)
    bodies = []
    for b in range(count):
        recipients = []
        for i in range(b * 1000, (b + 1) * 1000):
            values = render.recipient_values(settings, {"id": i + 1, "email": f"top{i}@example.com",
                                                        "name": f"Reader {i}"})  # fmt: skip
            recipients.append(Recipient(i + 1, f"top{i}@example.com", f"Reader {i}", values,
                                        values["-unsubscribe_url-"]))  # fmt: skip
        bodies.append(batch_body(settings, BatchMessage(PERIOD, uuid.uuid4().hex, body, recipients)))
    return bodies


def bench_ceiling(server: Server, recipients: int, bodies: list[dict]) -> dict:
    """The plain library posting pre-built bodies from one process, no database, no rendering."""
    from sendgrid import SendGridAPIClient

    client = SendGridAPIClient(API_KEY, host=server.url)
    client.client.timeout = 120
    server.call("POST", "/_reset")
    requests = max(1, recipients // 1000)
    start = time.perf_counter()
    for r in range(requests):
        client.client.mail.send.post(request_body=bodies[r % len(bodies)])
    seconds = time.perf_counter() - start
    posted = server.call("GET", "/_stats")["recipients"]
    return {"recipients_per_s": round(posted / seconds), "seconds": round(seconds, 2)}


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="run one backend only")
    args = parser.parse_args()
    if args.quick:
        args.subscribers, args.runs = 5_000, 1
    n = args.subscribers
    result: dict = {"subscribers": n, "topic_sets": len(topic_sets()), "targets": TARGETS, "runs": args.runs}
    with Server() as server:
        bodies, posted = ceiling_bodies(server, 2 if args.quick else 20), min(n, CEILING_RECIPIENTS)

        def ceiling() -> dict:  # measured again beside each send
            return bench_ceiling(server, posted, bodies)

        if args.only != "postgres":
            result["sqlite"] = bench_sqlite(n, server, args.runs, ceiling)
        if args.only != "sqlite":
            result["postgres"] = bench_postgres(n, server, args.runs, ceiling)
        result["baseline_recipients_per_s"] = bench_baseline(server, 500 if args.quick else BASELINE_SAMPLE)
    # Every ceiling measured (one beside each send): their median, and each.
    measured = [c for db in ("sqlite", "postgres") if db in result for c in result[db]["ceiling_recipients_per_s_runs"]]
    result["ceiling_recipients_per_s"] = round(statistics.median(measured))
    result["ceiling_recipients_per_s_runs"] = measured
    report(result)
    if args.json:
        print(json.dumps(result))
    return 0


def report(result: dict) -> None:
    n, base, roof = result["subscribers"], result["baseline_recipients_per_s"], result["ceiling_recipients_per_s"]
    runs = result["runs"]
    print(f"send benchmark: {n:,} subscribers over {result['topic_sets']} topic sets, median of {runs} run(s)")
    print(f"  ceiling: the plain library posting pre-built bodies, one process, measured just before each send: "
          f"median {roof:,} recipients/s (runs {result['ceiling_recipients_per_s_runs']})")  # fmt: skip
    for name in ("sqlite", "postgres"):
        if name not in result:
            continue
        r = result[name]
        print(f" {name}, {r['workers']} worker(s) ({r['load']}): {r['seconds']:.1f} s on this machine, "
              f"{r['recipients_per_s']:,} recipients/s (spread {r['recipients_per_s_spread']:.0%}), "
              f"{r['requests']:,} requests, {r['duplicates']} duplicates, ledger sent {r['ledger_sent']:,}, "
              f"issue {r['issue_status']}")  # fmt: skip
        runs_note = (f"(runs {r['ratio_runs']}, spread {r['ratio_spread']:.0%}; "
                     f"ceilings beside them {r['ceiling_recipients_per_s_runs']})")  # fmt: skip
        print(_common.figure("ratio to the ceiling", r["ratio"], "", f">= {TARGETS['ratio']}",
                             r["ratio"] >= TARGETS["ratio"], runs_note))  # fmt: skip
        print(_common.figure("freeze share of the run", r["freeze_share"], "", f"<= {TARGETS['freeze_share']}",
                             r["freeze_share"] <= TARGETS["freeze_share"], f"(freeze {r['freeze_s']} s)"))  # fmt: skip
        print(_common.figure("peak RSS per worker", r["peak_rss_mb"], "MB", f"<= {TARGETS['peak_rss_mb']:.0f}",
                             r["peak_rss_mb"] <= TARGETS["peak_rss_mb"], f"{r['peak_rss_mb_per_worker']}"))  # fmt: skip
    print(f"  baseline  one request per recipient, plain sendgrid library: {base:,} recipients/s "
          f"(1,000,000 would take {1_000_000 / base / 60:.0f} min)")


if __name__ == "__main__":
    raise SystemExit(main())
