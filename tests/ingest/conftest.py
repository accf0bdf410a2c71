"""Fixtures of the ingest tests: a feed server on loopback."""

from __future__ import annotations

import pytest
from feedserver import FeedServer


@pytest.fixture
def server():
    """A feed server on 127.0.0.1; set `server.routes[path]` to what each path answers."""
    with FeedServer() as server:
        yield server
