"""`curator demo`, run as a new user would, and every email it writes read back with `email`."""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
import sys
from email.utils import parseaddr

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [sys.executable, "-m", "curator", "demo", "--dir", str(folder)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "HOME": str(folder), "CURATOR_BASE_URL": "https://news.example.org",
             "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    return folder, result.stdout


def _emails(folder):
    paths = sorted((folder / "outbox").glob("*.eml"))
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in paths]


def test_the_demo_reports_what_it_did(demo_dir):
    folder, out = demo_dir
    assert "Feeds read: 8 (0 with errors)" in out
    assert "emails written: 5 (sent 5, failed 0)" in out
    assert str(folder / "outbox") in out and str(folder / "preview.html") in out
    assert "<html" in (folder / "preview.html").read_text().lower()
    # The next steps run as printed, without an activated virtual environment: curator by its path.
    assert "bin/curator users add you@example.com" in out and "bin/curator serve" in out


def test_every_email_is_a_complete_newsletter(demo_dir):
    folder, _ = demo_dir
    messages = _emails(folder)
    assert len(messages) == 5
    assert len({m["To"] for m in messages}) == 5
    assert len({m["Message-ID"] for m in messages}) == 5
    for msg in messages:
        for header in ("From", "To", "Subject", "Date", "Message-ID"):
            assert msg[header], header
        assert parseaddr(msg["From"])[1] == "newsletter@example.com"
        unsubscribe = str(msg["List-Unsubscribe"])
        assert unsubscribe.startswith("<https://news.example.org/unsubscribe/"), unsubscribe
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg.get_content_type() == "multipart/alternative"
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        link = unsubscribe.strip("<>").split(">")[0]
        for part in (text, html):
            assert link in part.replace("&amp;", "&")
            assert "1 Example Street" in part
            assert "-name-" not in part and "-unsubscribe_url-" not in part


def test_list_unsubscribe_is_written_literally(demo_dir):
    """Mail clients read List-Unsubscribe as written: no RFC 2047 encoded words."""
    folder, _ = demo_dir
    for path in (folder / "outbox").glob("*.eml"):
        assert path.read_bytes().count(b"MIME-Version:") == 1
        raw = path.read_bytes().split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        assert b"List-Unsubscribe: <https://news.example.org/unsubscribe/" in raw
        assert b"=?utf-8?" not in raw.split(b"List-Unsubscribe:", 1)[1].split(b"List-Unsubscribe-Post", 1)[0]


def test_subscribers_topics_come_first(demo_dir):
    folder, _ = demo_dir
    by_to = {parseaddr(str(m["To"]))[1]: m.get_body(("plain",)).get_content() for m in _emails(folder)}
    grace = by_to["grace@example.org"]
    ada = by_to["ada@example.com"]
    assert grace.index("LEADERSHIP") < grace.index("SOFTWARE ENGINEERING")
    assert ada.index("MACHINE LEARNING") < ada.index("CAREER")
    assert "Hi Ada," in ada


def test_running_the_demo_again_starts_over(demo_dir):
    folder, _ = demo_dir
    again = subprocess.run(
        [sys.executable, "-m", "curator", "demo", "--dir", str(folder)],
        capture_output=True, text=True, timeout=120, cwd=REPO, env={"PATH": "/usr/bin:/bin", "HOME": str(folder)},
    )
    assert again.returncode == 0, again.stderr
    assert len(list((folder / "outbox").glob("*.eml"))) == 5


def test_review_mode_stops_at_the_desk_and_writes_the_settings_to_reach_it(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "curator", "demo", "--dir", str(tmp_path), "--review"],
        capture_output=True, text=True, timeout=120, cwd=REPO, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "outbox").exists()
    env = dict(
        line.split("=", 1) for line in (tmp_path / "demo.env").read_text().splitlines() if not line.startswith("#")
    )
    assert env["CURATOR_DATABASE_URL"] == f"sqlite:///{tmp_path / 'curator.db'}"
    picks = subprocess.run(
        [sys.executable, "-m", "curator", "picks", "--json", _this_month()],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", **env},
    )
    assert picks.returncode == 0, picks.stderr
    decisions = {p["decision"] for p in json.loads(picks.stdout)}
    assert decisions == {"suggested"}


def _this_month() -> str:
    from datetime import UTC, datetime

    return f"{datetime.now(UTC):%Y-%m}"
