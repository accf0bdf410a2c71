"""`curator config` hides every form of database password: userinfo (with @ in it), query, percent-encoded."""

from __future__ import annotations

import json

import pytest

from tests.security.helpers import cli, run

URLS = [
    ("postgresql+psycopg://bob:hunter2@db.example/news", "hunter2"),
    ("postgresql+psycopg://bob:hun@ter2@db.example/news", "ter2"),
    ("postgresql+psycopg://bob:hun%40ter2@db.example/news", "ter2"),
    ("postgresql+psycopg://db.example/news?user=bob&password=hunter2", "hunter2"),
    ("postgresql+psycopg://bob@db.example/news?sslmode=require&PASSWORD=hunter2&x=1", "hunter2"),
    ("postgresql+psycopg://bob:hunter2@db.example/news?sslpassword=keypass9", "keypass9"),
    ("postgresql+psycopg://bob:hu:nt/er?2@db.example/news", "nt/er"),
]


@pytest.mark.parametrize(("url", "secret"), URLS)
def test_config_never_prints_a_database_password(url, secret):
    result = cli("config", "--json", env={"CURATOR_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)["database_url"]
    assert secret not in shown and "***" in shown
    assert "db.example" in shown  # still says where the database is


def test_the_table_and_a_bad_url_error_hide_it_too():
    url = "postgresql+psycopg://bob:hun@ter2@db.example/news?password=other9"
    table = cli("config", env={"CURATOR_DATABASE_URL": url})
    assert table.exit_code == 0 and "ter2" not in table.stdout and "other9" not in table.stdout
    broken = run("db", "upgrade", env={"CURATOR_DATABASE_URL": "mysql+nosuchdriver://bob:hunter2@db.example/news"})
    assert broken.returncode != 0 and "hunter2" not in broken.stderr + broken.stdout
