"""The README stays true: every setting documented with its real default, the two commands named."""

from __future__ import annotations

from curator.config import settings_markdown
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_the_settings_table_is_the_one_the_code_declares():
    assert settings_markdown() in README, "run `curator config --markdown` and paste it into the README"


def test_the_two_commands_are_there_and_ci_runs_the_test_one():
    assert "make demo" in README and "make test" in README
    assert "make test" in (REPO / ".ci" / "run").read_text()
