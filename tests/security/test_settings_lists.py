"""List settings set the way the README says (comma-separated, one value, empty) must not crash any verb."""

from __future__ import annotations

import json

import pytest

from tests.security.helpers import cli, run

LISTS = ("CURATOR_SEED_LIST", "CURATOR_EDITOR_EMAILS", "CURATOR_OPS_EMAILS")


@pytest.mark.parametrize("variable", LISTS)
@pytest.mark.parametrize(
    ("value", "expected"),
    [("a@x.com,b@x.com", "a@x.com,b@x.com"), (" a@x.com , b@x.com ,", "a@x.com,b@x.com"),
     ("a@x.com", "a@x.com"), ("", ""), ('["a@x.com", "b@x.com"]', "a@x.com,b@x.com")],
)
def test_a_list_setting_is_read_as_documented(variable, value, expected):
    result = cli("config", "--json", env={variable: value})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[variable.removeprefix("CURATOR_").lower()] == expected


def test_every_list_set_at_once_in_a_real_process():
    env = {name: "ops@example.com,dev@example.com" for name in LISTS}
    result = run("config", "--json", env=env)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["seed_list"] == values["ops_emails"] == "ops@example.com,dev@example.com"


def test_a_misspelled_setting_is_warned_about_with_the_closest_name():
    result = run("config", "--json", env={"CURATOR_SEED_LSIT": "a@x.com", "CURATOR_DATABSE_URL": "sqlite:///x.db"})
    assert result.returncode == 0, result.stderr
    assert "CURATOR_SEED_LSIT is not a Curator setting and is ignored: did you mean CURATOR_SEED_LIST?" in result.stderr
    assert "CURATOR_DATABSE_URL is not a Curator setting" in result.stderr
    assert "did you mean CURATOR_DATABASE_URL?" in result.stderr
    assert json.loads(result.stdout)["seed_list"] == ""


def test_the_test_suites_own_variables_are_not_warned_about():
    result = run("config", "--json", env={"CURATOR_TEST_POSTGRES_URL": "postgresql://x/y"})
    assert "not a Curator setting" not in result.stderr
