"""A short secret key, or the demo's published one, is refused by every command before it starts."""

from __future__ import annotations

import pytest

from curator.config import MAKE_SECRET, PUBLISHED_SECRETS
from tests.security.helpers import cli, run

SHORT = "x" * 31


@pytest.mark.parametrize("verb", [("config",), ("serve", "--port", "1"), ("worker", "--once")])
def test_a_secret_shorter_than_32_characters_is_refused(verb):
    result = cli(*verb, env={"CURATOR_SECRET_KEY": SHORT})
    assert result.exit_code != 0
    assert "CURATOR_SECRET_KEY: is 31 characters; it must be at least 32" in str(result.exception)
    assert MAKE_SECRET in str(result.exception)


def test_the_refusal_reads_well_in_a_real_shell():
    result = run("serve", env={"CURATOR_SECRET_KEY": "changeme"})
    assert result.returncode == 2
    assert "error: setting CURATOR_SECRET_KEY: is 8 characters" in result.stderr
    assert "secrets.token_urlsafe(32)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("published", sorted(PUBLISHED_SECRETS))
def test_the_demos_published_secret_is_refused(published):
    result = cli("config", env={"CURATOR_SECRET_KEY": published})
    assert result.exit_code != 0
    assert "the demo's published secret" in str(result.exception)


def test_a_32_character_secret_is_taken():
    result = cli("config", "--json", env={"CURATOR_SECRET_KEY": "k" * 32})
    assert result.exit_code == 0, result.output
    assert "kkkk" not in result.stdout  # and it is masked


def test_the_demo_makes_a_secret_of_its_own_each_run(tmp_path):

    secrets_seen = set()
    for n in range(2):
        result = cli("demo", "--dir", str(tmp_path / f"d{n}"), "--review",
                     env={"CURATOR_BASE_URL": "https://news.example.org"})
        assert result.exit_code == 0, result.output
        env = dict(line.split("=", 1) for line in (tmp_path / f"d{n}" / "demo.env").read_text().splitlines()
                   if "=" in line and not line.startswith("#"))
        secrets_seen.add(env["CURATOR_SECRET_KEY"])
        assert len(env["CURATOR_SECRET_KEY"]) >= 32
    assert len(secrets_seen) == 2 and not secrets_seen & PUBLISHED_SECRETS
