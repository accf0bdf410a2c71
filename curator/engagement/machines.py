"""Human or machine: the rules, and the small documented lists behind them.

A click or an open counts as a machine's when any of these holds (the first one found is
recorded as the reason):

- the request is HEAD (browsers follow links with GET; link checkers ask HEAD);
- SendGrid flags the open as `sg_machine_open` (Apple Mail Privacy Protection and the like);
- the user agent is missing, or names a scanner, proxy, crawler or HTTP library (SCANNER_AGENTS);
- the address is in a scanner's network (SCANNER_NETWORKS, plus `click_scanner_networks`);
- a click came `click_machine_seconds` or less after the email went out;
- every link of one message was clicked within one second (BURST_SECONDS).

The lists are short on purpose: they name what is widely documented, and ops add the
networks of their own readers' mail gateways with CURATOR_CLICK_SCANNER_NETWORKS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

BURST_SECONDS = 1.0

# Lower-case substrings of the User-Agent of mail security gateways, link previewers, crawlers
# and HTTP libraries; no person's browser sends one of these.
SCANNER_AGENTS = (
    "barracuda", "mimecast", "proofpoint", "messagelabs", "symantec", "trendmicro", "trend micro",
    "fortiguard", "sophos", "forcepoint", "cisco ironport", "safelinks", "ms-office-linkscan",
    "bingpreview", "googleimageproxy", "yahoomailproxy", "headlesschrome", "phantomjs",
    "python-requests", "python-urllib", "aiohttp", "httpx", "curl/", "wget/", "go-http-client",
    "java/", "okhttp", "libwww-perl", "apache-httpclient", "bot", "crawler", "spider", "scanner",
    "preview",
)  # fmt: skip

# Networks of crawlers and mail proxies that follow links in email (published by their operators).
SCANNER_NETWORKS = (
    "66.249.64.0/19",  # Google's crawlers and image proxy (googlebot.json)
    "157.55.39.0/24",  # Microsoft's Bingbot / BingPreview (bingbot.json)
    "207.46.13.0/24",  # Microsoft's Bingbot / BingPreview (bingbot.json)
)


@lru_cache(maxsize=8)
def _networks(extra: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(n, strict=False) for n in SCANNER_NETWORKS + extra)


def scanner_agent(user_agent: str | None) -> bool:
    agent = (user_agent or "").strip().lower()
    return not agent or any(word in agent for word in SCANNER_AGENTS)


def scanner_network(ip: str | None, extra: Iterable[str] = ()) -> bool:
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(extra)))


def click_reason(
    *,
    method: str,
    user_agent: str | None,
    ip: str | None,
    at: datetime,
    sent_at: datetime | None,
    machine_seconds: float,
    extra_networks: Iterable[str] = (),
) -> str:
    """Why a click is a machine's, or "" for a person's (the burst rule is applied after recording)."""
    if method.upper() == "HEAD":
        return "HEAD request"
    if not (user_agent or "").strip():
        return "no user agent"
    if scanner_agent(user_agent):
        return "scanner user agent"
    if scanner_network(ip, extra_networks):
        return "scanner network"
    if sent_at is not None and (at - sent_at).total_seconds() <= machine_seconds:
        return "too soon after delivery"
    return ""


def open_reason(event: dict, extra_networks: Iterable[str] = ()) -> str:
    """Why a SendGrid open event is a machine's, or "" for a person's."""
    if event.get("sg_machine_open") in (True, "true", "True", 1):
        return "sg_machine_open"
    agent = event.get("useragent")
    if agent is not None and scanner_agent(str(agent)):
        return "scanner user agent"
    if scanner_network(str(event.get("ip") or ""), extra_networks):
        return "scanner network"
    return ""
