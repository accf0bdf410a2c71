"""A wheel install, not only this checkout, finds the templates and the default feeds.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def wheel_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )
    return out


@pytest.mark.slow
def test_the_wheel_carries_templates_feeds_and_the_scheduler(wheel_dir):
    (wheel,) = wheel_dir.glob("curator-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "curator/feeds.yaml" in names
    assert "curator/store/migrations/env.py" in names
    assert any(n.startswith("curator/templates/email/") for n in names)
    assert any(n.startswith("curator/templates/web/") for n in names)
    assert "scheduler/__main__.py" in names
    for static in ("desk.js", "desk.css", "vendor/htmx.min.js", "vendor/htmx.LICENSE", "vendor/Sortable.min.js",
                   "vendor/Sortable.LICENSE"):
        assert f"curator/web/static/{static}" in names, static


@pytest.mark.slow
def test_an_installed_wheel_runs_from_anywhere(wheel_dir, tmp_path):
    (wheel,) = wheel_dir.glob("curator-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("CURATOR_FEEDS", None)
    env.pop("CURATOR_DATABASE_URL", None)  # the default, a SQLite file in the working folder
    probe = (
        "import curator, curator.config as c, curator.sources as s;"
        "print(curator.__file__);"
        "print(c.resource_path('templates'));"
        "print(len(s.load_sources(c.Settings().feeds).feeds))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=elsewhere, env=env, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    assert out[0].startswith(str(target))
    assert out[1].startswith(str(target)) and (target / "curator/templates/email").is_dir()
    assert int(out[2]) >= 20
    upgrade = subprocess.run(
        [sys.executable, "-m", "curator", "db", "upgrade"], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert upgrade.returncode == 0, upgrade.stderr
    assert (elsewhere / "curator.db").exists()
