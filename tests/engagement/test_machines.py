"""The human-or-machine rules, one by one, and the setting that adds scanner networks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from curator.config import load_settings
from curator.engagement import machines
from curator.errors import ConfigError

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1.15"
SENT = datetime(2026, 5, 5, 9, 0, tzinfo=UTC)


def reason(**given):
    args = {"method": "GET", "user_agent": BROWSER, "ip": "198.51.100.7", "at": SENT + timedelta(hours=3),
            "sent_at": SENT, "machine_seconds": 10.0} | given  # fmt: skip
    return machines.click_reason(**args)


def test_a_person_reading_later_is_human():
    assert reason() == ""
    assert reason(at=SENT + timedelta(seconds=11)) == ""


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"method": "HEAD"}, "HEAD request"),
        ({"user_agent": ""}, "no user agent"),
        ({"user_agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"}, "scanner user agent"),
        ({"user_agent": "python-requests/2.32"}, "scanner user agent"),
        ({"ip": "66.249.66.1"}, "scanner network"),
        ({"at": SENT + timedelta(seconds=10)}, "too soon after delivery"),
    ],
)
def test_each_machine_rule(given, expected):
    assert reason(**given) == expected


def test_networks_from_the_setting_count_too():
    assert reason(ip="203.0.113.9") == ""
    assert reason(ip="203.0.113.9", extra_networks=("203.0.113.0/24",)) == "scanner network"
    assert load_settings(click_scanner_networks="203.0.113.0/24, 2001:db8::/32").click_scanner_networks == [
        "203.0.113.0/24", "2001:db8::/32"
    ]
    with pytest.raises(ConfigError, match="not an IP address or CIDR"):
        load_settings(click_scanner_networks="203.0.113.0/33")


def test_opens():
    assert machines.open_reason({"event": "open", "useragent": BROWSER}) == ""
    assert machines.open_reason({"event": "open"}) == ""  # SendGrid does not always say
    assert machines.open_reason({"event": "open", "sg_machine_open": True}) == "sg_machine_open"
    assert machines.open_reason({"useragent": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)"}) == "scanner user agent"
    assert machines.open_reason({"ip": "192.0.2.5"}, ("192.0.2.0/24",)) == "scanner network"
