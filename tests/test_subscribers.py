"""Subscribers: addresses, double opt-in, suppressions, the audience, CSV, and a person's data."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import insert, select
from typer.testing import CliRunner

from curator import render, subscribers
from curator.cli import app
from curator.cli._app import state
from curator.errors import BadToken, IllegalTransition, InvalidAddress, NotFound
from curator.store.schema import audit_log, deliveries, events, issues, now, suppressions
from curator.store.schema import subscribers as subscribers_table

TOPICS = ["career", "learning", "leadership"]
FEEDS_YAML = """\
topics:
  - name: career
    title: Career
    description: Jobs, growth and moves
    keywords: [career]
  - name: learning
    keywords: [learn]
  - name: leadership
    keywords: [lead]
feeds: []
"""


@pytest.fixture
def feeds_file(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS_YAML)
    return path


class Collector:
    """The mailer seam: keeps what would have been sent."""

    def __init__(self):
        self.sent: list[dict] = []

    def __call__(self, settings, *, to, subject, html, text, headers=None):
        self.sent.append({"to": to, "subject": subject, "html": html, "text": text, "headers": headers})


# --- addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Bob@Example.COM", "bob@example.com"),
        ("  ann.lee+news@Mail.Example.org \n", "ann.lee+news@mail.example.org"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("bob@xn--r8jz45g.jp", "bob@例え.jp"),  # punycode and unicode domains are one address
    ],
)
def test_addresses_are_normalized_and_lowercased(given, stored):
    assert subscribers.normalize_email(given) == stored


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("bob@", "'bob@' is not a valid address: There must be something after the @-sign."),
        ("bob", "'bob' is not a valid address: An email address must have an @-sign."),
        ("a..b@example.com", "two periods in a row"),
        ("bob@localhost", "should have a period"),
        ("åsa@example.com", "Internationalized characters before the @-sign are not supported"),
        ("", "an email address is required"),
    ],
)
def test_invalid_addresses_say_why(given, reason):
    with pytest.raises(InvalidAddress) as info:
        subscribers.normalize_email(given)
    assert reason in str(info.value)


def test_names_are_cleaned():
    assert subscribers.clean_name("  Ann \t\n Lee\x00\x1b ") == "Ann Lee"
    assert len(subscribers.clean_name("x" * 500)) == 200


def test_one_subscriber_per_address_whatever_the_case(engine):
    with engine.begin() as conn:
        first = subscribers.add(conn, "Ann@Example.com", name="Ann")
    assert first["status"] == "active" and first["email"] == "ann@example.com" and first["confirmed_at"]
    refused = r"ann@example.com is already a subscriber \(active"
    with pytest.raises(InvalidAddress, match=refused), engine.begin() as conn:
        subscribers.add(conn, "ANN@example.COM")


def test_topics_are_checked_and_kept_in_feeds_order(engine):
    with engine.begin() as conn:
        sub = subscribers.add(conn, "a@example.com", topics=["leadership", "career", "career"], known_topics=TOPICS)
    assert sub["topics"] == ["career", "leadership"]
    unknown = "unknown topic 'cooking': the topics in feeds.yaml are career, learning"
    with pytest.raises(NotFound, match=unknown), engine.begin() as conn:
        subscribers.add(conn, "b@example.com", topics=["cooking"], known_topics=TOPICS)


# --- double opt-in -----------------------------------------------------------------------------


def test_the_public_form_makes_a_pending_subscriber_who_confirms_by_link(engine, settings):
    mailer = Collector()
    with engine.begin() as conn:
        sub, send = subscribers.subscribe(conn, "new@example.com", name="New", topics=["learning"], known_topics=TOPICS)
    assert sub["status"] == "pending" and sub["confirmed_at"] is None and send
    subscribers.send_confirmation(settings, sub, mailer)
    [mail] = mailer.sent
    assert mail["to"] == "new@example.com" and "Confirm" in mail["subject"]
    link = next(line for line in mail["text"].splitlines() if "/confirm/" in line)
    assert f'href="{link}"' in mail["html"] and "days" in mail["text"]
    assert settings.postal_address in mail["text"] and settings.postal_address in mail["html"]
    token = link.rsplit("/", 1)[1]
    with engine.begin() as conn:
        assert subscribers.confirm(conn, settings, token)["status"] == "active"
        assert subscribers.confirm(conn, settings, token)["status"] == "active"  # twice is fine


def test_a_pending_subscriber_is_not_in_the_audience(engine):
    with engine.begin() as conn:
        subscribers.subscribe(conn, "new@example.com")
        assert subscribers.audience(conn) == []


def test_the_form_answers_alike_but_mails_only_who_may_be_mailed(engine):
    with engine.begin() as conn:
        subscribers.add(conn, "active@example.com")
        subscribers.add(conn, "bounced@example.com")
        subscribers.suppress(conn, "bounced@example.com", "bounced", "550 no such user")
        gone = subscribers.add(conn, "gone@example.com", topics=["career"], known_topics=TOPICS)
        subscribers.unsubscribe(conn, gone["id"])
    with engine.begin() as conn:
        assert subscribers.subscribe(conn, "active@example.com")[1] is False
        assert subscribers.subscribe(conn, "bounced@example.com")[1] is False
        again, send = subscribers.subscribe(conn, "gone@example.com", topics=["learning"], known_topics=TOPICS)
    assert send and again["status"] == "pending" and again["topics"] == ["learning"]


def test_confirming_a_resubscription_lifts_the_unsubscribe_but_never_a_bounce(engine, settings):
    with engine.begin() as conn:
        sub = subscribers.add(conn, "back@example.com")
        subscribers.unsubscribe(conn, sub["id"])
        sub, _ = subscribers.subscribe(conn, "back@example.com")
    token = render.confirm_url(settings, sub).rsplit("/", 1)[1]
    with engine.begin() as conn:
        assert subscribers.confirm(conn, settings, token)["status"] == "active"
        assert not subscribers.is_suppressed(conn, "back@example.com")
        assert [r["email"] for r in subscribers.audience(conn)] == ["back@example.com"]
        subscribers.suppress(conn, "back@example.com", "bounced")
    with pytest.raises(BadToken, match="no longer valid"), engine.begin() as conn:
        subscribers.confirm(conn, settings, token)


def test_a_token_for_a_forgotten_subscriber_is_refused(engine, settings):
    with engine.begin() as conn:
        sub = subscribers.add(conn, "ann@example.com")
    token = render.unsubscribe_url(settings, sub).rsplit("/", 1)[1]
    with engine.begin() as conn:
        subscribers.forget(conn, "ann@example.com")
        # SQLite hands the freed id to the next row: the address in the token tells them apart.
        subscribers.add(conn, "bob@example.com")
    with pytest.raises(BadToken, match="no longer here"), engine.connect() as conn:
        subscribers.from_token(conn, settings, "unsubscribe", token)


# --- suppressions and status -------------------------------------------------------------------


def test_unsubscribing_suppresses_and_is_idempotent(engine):
    with engine.begin() as conn:
        sub = subscribers.add(conn, "ann@example.com")
        first = subscribers.unsubscribe(conn, sub["id"], "one-click")
        second = subscribers.unsubscribe(conn, sub["id"], "one-click")
        row = subscribers.suppression(conn, "ann@example.com")
    assert first["status"] == second["status"] == "unsubscribed" and first["unsubscribed_at"]
    assert row["reason"] == "unsubscribed" and row["detail"] == "one-click"


def test_a_stronger_suppression_replaces_a_weaker_one_never_the_reverse(engine):
    with engine.begin() as conn:
        subscribers.add(conn, "ann@example.com")
        assert subscribers.suppress(conn, "ann@example.com", "bounced", "550")
        assert subscribers.suppress(conn, "Ann@Example.com", "complained", "spam report")
        assert not subscribers.suppress(conn, "ann@example.com", "unsubscribed")
        assert subscribers.suppression(conn, "ann@example.com")["reason"] == "complained"
        assert subscribers.lookup(conn, "ann@example.com")["status"] == "complained"
        assert subscribers.is_suppressed(conn, "ANN@example.com")
        # An address never subscribed can be suppressed too (a seed address that bounced).
        assert subscribers.suppress(conn, "seed@example.com", "bounced")


def test_illegal_status_moves_are_refused(engine):
    with engine.begin() as conn:
        sub = subscribers.add(conn, "ann@example.com")
        subscribers.suppress(conn, "ann@example.com", "complained")
    with pytest.raises(IllegalTransition, match="is complained; it cannot become pending"), engine.begin() as conn:
        subscribers._lifecycle._move(conn, subscribers.get(conn, sub["id"]), "pending")


def test_a_suppressed_address_cannot_be_added_by_hand(engine):
    with engine.begin() as conn:
        subscribers.suppress(conn, "gone@example.com", "bounced")
    with pytest.raises(InvalidAddress, match="suppressed: it bounced on .* never mails"), engine.begin() as conn:
        subscribers.add(conn, "gone@example.com")


# --- the audience ------------------------------------------------------------------------------


def test_the_audience_is_active_and_unsuppressed_with_its_variant(engine):
    with engine.begin() as conn:
        a = subscribers.add(conn, "a@example.com", name="A", topics=["leadership", "career"], known_topics=TOPICS)
        subscribers.add(conn, "b@example.com")
        c = subscribers.add(conn, "c@example.com", topics=["learning"], known_topics=TOPICS)
        subscribers.subscribe(conn, "pending@example.com")
        subscribers.unsubscribe(conn, c["id"])
        # Suppressed by the webhook while the status still says active: the suppression wins.
        conn.execute(insert(suppressions), {"email": "b@example.com", "reason": "bounced", "created_at": now()})
        d = subscribers.add(conn, "d@example.com", topics=["learning", "career"], known_topics=TOPICS)
        rows = subscribers.audience(conn)
    assert rows == [
        {"subscriber_id": a["id"], "email": "a@example.com", "name": "A", "variant": "career,leadership"},
        {"subscriber_id": d["id"], "email": "d@example.com", "name": "", "variant": "career,learning"},
    ]


def test_the_audience_select_freezes_a_ledger(engine):
    with engine.begin() as conn:
        subscribers.add(conn, "a@example.com", topics=["learning"], known_topics=TOPICS)
        subscribers.add(conn, "b@example.com")
        issue_id = conn.execute(insert(issues).returning(issues.c.id), {"period": "2026-12"}).scalar_one()
        audience = subscribers.audience_select().subquery()
        from sqlalchemy import literal

        conn.execute(
            insert(deliveries).from_select(
                ["issue_id", "subscriber_id", "email", "name", "variant"],
                select(literal(issue_id), audience.c.subscriber_id, audience.c.email, audience.c.name,
                       audience.c.variant),
            )
        )
        ledger = conn.execute(select(deliveries.c.email, deliveries.c.variant).order_by(deliveries.c.id)).all()
    assert [tuple(r) for r in ledger] == [("a@example.com", "learning"), ("b@example.com", "")]


# --- CSV ---------------------------------------------------------------------------------------


@pytest.fixture
def cli(db_url, feeds_file):
    """Run `curator ...` in process on the test's database and feeds."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        try:
            return runner.invoke(app, ["--database-url", db_url, "--feeds", str(feeds_file), *args], input=input)
        finally:
            if state._engine is not None:
                state._engine.dispose()

    return run


def test_import_reports_each_refused_row_by_line_and_imports_the_rest(cli, engine, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        "\ufeffEmail,Name,Topics\n"
        "ann@example.com,Ann,career;learning\n"
        "bob@,Bob,\n"
        '"carl@example.com","Carl, Jr.",leadership\n'
        "ANN@example.com,Ann again,\n"
        "dee@example.com,Dee,cooking\n"
        "eve@example.com,,\n",
        encoding="utf-8",
    )
    result = cli("subscribers", "import", str(path))
    assert result.exit_code == 0, result.output
    assert f"{path}:3: 'bob@' is not a valid address" in result.output
    assert f"{path}:5: duplicate in the file: ann@example.com is already on line 2" in result.output
    assert f"{path}:6: unknown topic 'cooking'" in result.output
    assert "Imported 3 subscriber(s); refused 3 row(s)." in result.output
    with engine.connect() as conn:
        rows = {r["email"]: r for r in subscribers.list_subscribers(conn)}
        logged = conn.execute(select(audit_log.c.action, audit_log.c.detail)).all()
    assert set(rows) == {"ann@example.com", "carl@example.com", "eve@example.com"}
    assert rows["carl@example.com"]["name"] == "Carl, Jr." and rows["ann@example.com"]["topics"] == TOPICS[:2]
    assert all(r["status"] == "active" and r["source"] == "import" for r in rows.values())
    assert ("subscriber.import", "3 added, 3 refused") in [tuple(r) for r in logged]

    again = cli("subscribers", "import", str(path), "--json")
    report = json.loads(again.stdout)
    assert report["added"] == 0 and [r["line"] for r in report["rejected"]] == [2, 3, 4, 5, 6, 7]
    assert "already a subscriber" in report["rejected"][0]["reason"]


def test_import_without_an_email_column_is_refused(cli, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("address,name\nann@example.com,Ann\n")
    result = cli("subscribers", "import", str(path))
    assert "no `email` column" in str(result.exception) and f"{path}:1" in str(result.exception)


def test_add_says_it_adds_an_active_subscriber(cli, engine):
    assert "ACTIVE" in cli("subscribers", "add", "--help").output
    result = cli("subscribers", "add", "Zed@Example.com", "--name", "Zed", "--topics", "learning,career")
    assert result.exit_code == 0 and "Added zed@example.com" in result.output
    with engine.connect() as conn:
        assert subscribers.lookup(conn, "zed@example.com")["topics"] == ["career", "learning"]
    refused = cli("subscribers", "add", "zed@example.com")
    assert isinstance(refused.exception, InvalidAddress)
    bad_topic = cli("subscribers", "add", "x@example.com", "--topics", "nope")
    assert isinstance(bad_topic.exception, NotFound) and "career, learning, leadership" in str(bad_topic.exception)


def test_list_and_export_round_trip(cli, engine, tmp_path):
    cli("subscribers", "add", "a@example.com", "--name", "A", "--topics", "career,leadership")
    cli("subscribers", "add", "b@example.com")
    listed = json.loads(cli("subscribers", "list", "--json").stdout)
    assert [(s["email"], s["topics"], s["status"]) for s in listed] == [
        ("a@example.com", ["career", "leadership"], "active"), ("b@example.com", [], "active")
    ]
    out = tmp_path / "out.csv"
    assert "Wrote 2 subscriber(s)" in cli("subscribers", "export", str(out)).output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows[0]["email"] == "a@example.com" and rows[0]["topics"] == "career;leadership"
    stdout = cli("subscribers", "export").stdout
    assert stdout.splitlines()[0].startswith("email,name,topics,status")
    with engine.begin() as conn:
        conn.execute(subscribers_table.delete())
    assert "Imported 2" in cli("subscribers", "import", str(out)).output


# --- a person's data ---------------------------------------------------------------------------


def _history(engine, email: str) -> int:
    """A subscriber who got an issue and whose address the provider reported on."""
    with engine.begin() as conn:
        sub = subscribers.add(conn, email, name="Ann Lee", topics=["career"], known_topics=TOPICS)
        issue_id = conn.execute(insert(issues).returning(issues.c.id), {"period": "2026-11"}).scalar_one()
        conn.execute(insert(issues), {"period": "2026-12"})
        conn.execute(insert(deliveries), [
            {"issue_id": issue_id, "subscriber_id": sub["id"], "email": email, "name": "Ann Lee",
             "variant": "career", "state": "sent", "batch_key": "b1"},
            {"issue_id": issue_id + 1, "subscriber_id": sub["id"], "email": email, "name": "Ann Lee",
             "variant": "career", "state": "pending", "batch_key": None},
        ])
        conn.execute(insert(events), {
            "sg_event_id": "ev-1", "event": "open", "email": email.upper(), "issue_id": issue_id, "batch_key": "b1",
            "payload": {"event": "open", "email": email, "ip": "192.0.2.1", "useragent": "Mail", "sg_event_id": "ev-1"},
        })
    return sub["id"]


def test_export_data_shows_everything_stored(cli, engine):
    subscriber_id = _history(engine, "ann@example.com")
    result = cli("subscribers", "export-data", "Ann@Example.com")
    data = json.loads(result.stdout)
    assert data["subscriber"]["id"] == subscriber_id and data["subscriber"]["name"] == "Ann Lee"
    assert [(d["period"], d["state"]) for d in data["deliveries"]] == [("2026-11", "sent"), ("2026-12", "pending")]
    assert data["events"][0]["payload"]["ip"] == "192.0.2.1" and data["suppression"] is None
    assert isinstance(cli("subscribers", "export-data", "nobody@example.com").exception, NotFound)


def test_forget_erases_personal_data_and_keeps_nothing_for_an_unsubscribe(cli, engine):
    _history(engine, "ann@example.com")
    with engine.begin() as conn:
        subscribers.unsubscribe(conn, subscribers.lookup(conn, "ann@example.com")["id"])
    result = cli("subscribers", "forget", "ann@example.com", "--yes")
    assert result.exit_code == 0 and "2 ledger row(s) and 1 event(s) anonymized" in result.output
    with engine.connect() as conn:
        assert subscribers.find(conn, "ann@example.com") is None
        assert not subscribers.is_suppressed(conn, "ann@example.com")
        ledger = conn.execute(select(deliveries).order_by(deliveries.c.id)).mappings().all()
        event = conn.execute(select(events)).mappings().one()
        logged = conn.execute(select(audit_log.c.target, audit_log.c.detail)).all()
    assert {(r["email"], r["name"], r["subscriber_id"]) for r in ledger} == {("", "", None)}
    assert [r["state"] for r in ledger] == ["sent", "skipped"]  # the pending copy is never sent
    assert event["email"] == "" and event["payload"] == {"event": "open", "sg_event_id": "ev-1"}
    assert event["batch_key"] == "b1"
    assert not any("ann@" in f"{t} {d}" for t, d in logged)
    assert isinstance(cli("subscribers", "forget", "ann@example.com", "--yes").exception, NotFound)


def test_forget_keeps_a_bounced_address_suppressed(cli, engine):
    with engine.begin() as conn:
        subscribers.add(conn, "gone@example.com")
        subscribers.suppress(conn, "gone@example.com", "bounced", "550 user unknown")
    result = cli("subscribers", "forget", "gone@example.com", "--yes")
    assert "suppression kept: bounced" in result.output
    with engine.connect() as conn:
        assert subscribers.find(conn, "gone@example.com") is None
        assert subscribers.is_suppressed(conn, "gone@example.com")


def test_a_csv_that_is_not_utf8_is_refused_with_the_line_and_the_fix(tmp_path, engine):
    from curator.errors import CuratorError
    from curator.subscribers import import_csv

    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("email,name\nok@example.com,Ok\njose@example.com,Jos\xe9\n".encode("latin-1"))
    with engine.begin() as conn, pytest.raises(CuratorError, match=r"latin1.csv:3: not UTF-8 text.*CSV UTF-8"):
        import_csv(conn, latin1, known_topics=None)


def test_a_utf16_csv_with_its_bom_is_read(tmp_path, engine):
    from curator.subscribers import import_csv

    utf16 = tmp_path / "utf16.csv"
    utf16.write_text("email,name\njose@example.com,José\n", encoding="utf-16")
    with engine.begin() as conn:
        report = import_csv(conn, utf16, known_topics=None)
    assert report.added == ["jose@example.com"] and report.rejected == []
