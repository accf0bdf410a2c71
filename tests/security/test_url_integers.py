"""Out-of-range and malformed integers in desk and ops URLs are a 404, never a 500."""

from __future__ import annotations

import pytest

from tests.security.conftest import add_user, post, sign_in

HUGE = "99999999999999999999"


@pytest.mark.parametrize("path", [
    f"/desk/issue/{HUGE}",
    f"/desk/{HUGE}",
    "/desk/2026-99",
    f"/ops/issues/{HUGE}",
    f"/ops/audit?page={HUGE}",
    "/ops/audit?page=abc",
    "/ops/audit?page=-1",
])
def test_a_huge_or_malformed_number_in_a_page_address_is_not_found(client, engine, path):
    add_user(engine, "admin@example.org", "admin")
    sign_in(client, "admin@example.org")
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 404, (path, response.status_code, response.text[:300])
    assert "Traceback" not in response.text


@pytest.mark.parametrize("path", [
    f"/desk/2026-12/picks/{HUGE}/decision",
    "/desk/2026-12/picks/-5/move",
    "/desk/2026-12/picks/1e9/blurb",
    f"/ops/alerts/{HUGE}/ack",
    "/ops/alerts/0x10/ack",
])
def test_a_huge_or_malformed_number_in_a_form_address_is_not_found(client, engine, path):
    add_user(engine, "admin@example.org", "admin")
    token = sign_in(client, "admin@example.org")
    response = post(client, path, {"decision": "approved", "direction": "up", "blurb": "x"}, token)
    assert response.status_code == 404, (path, response.status_code, response.text[:300])
