"""The SendGrid test server, driven by the official `sendgrid` library over loopback."""

from __future__ import annotations

import concurrent.futures
import copy
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, Header, Mail, Personalization, To

from curator.testing import sendgrid_rules as rules
from curator.testing.sendgrid_server import Faults, SendGridServer

REPO = Path(__file__).resolve().parents[1]
VALID: dict[str, Any] = {
    "from": {"email": "news@curator.test", "name": "Curator"},
    "subject": "Growth resources, issue 7",
    "content": [{"type": "text/plain", "value": "Hello"}],
    "personalizations": [{"to": [{"email": "ada@example.com"}], "custom_args": {"issue": "7"}}],
}


@pytest.fixture
def sg() -> Iterator[SendGridServer]:
    with SendGridServer() as server:
        yield server


def client_for(server: SendGridServer, key: str = "SG.test") -> SendGridAPIClient:
    client = SendGridAPIClient(key, host=server.url)
    client.client.timeout = 10  # the library waits forever by default
    return client


def post(server: SendGridServer, body: dict[str, Any], key: str = "SG.test") -> Any:
    return client_for(server, key).client.mail.send.post(request_body=body)


def rejected(server: SendGridServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(http_errors.BadRequestsError) as caught:
        post(server, body)
    return caught.value.to_dict["errors"]


def body_with(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    body = copy.deepcopy(VALID)
    change(body)
    return body


def newsletter(addresses: list[str]) -> Mail:
    mail = Mail(from_email="news@curator.test", subject="Issue 7", html_content="<p>Hi</p>")
    mail.custom_arg = CustomArg("campaign", "monthly")
    for i, address in enumerate(addresses):
        personalization = Personalization()
        personalization.add_to(To(address))
        personalization.add_custom_arg(CustomArg("issue", "7"))
        personalization.add_header(Header("List-Unsubscribe", f"<https://curator.test/u/{i}>"))
        mail.add_personalization(personalization, index=i)
    return mail


def test_a_valid_mail_is_accepted_and_recorded(sg: SendGridServer) -> None:
    response = client_for(sg).send(newsletter(["ada@example.com", "grace@example.com"]))

    assert response.status_code == 202
    assert response.body == b""
    [accepted] = sg.accepted
    assert response.headers["X-Message-Id"] == accepted.message_id
    assert accepted.recipients == ["ada@example.com", "grace@example.com"]
    assert accepted.custom_args == [{"campaign": "monthly", "issue": "7"}] * 2
    assert accepted.body["personalizations"][1]["headers"] == {"List-Unsubscribe": "<https://curator.test/u/1>"}
    assert sg.recipients() == ["ada@example.com", "grace@example.com"]
    assert sg.duplicates() == {}


def test_a_schema_violation_names_the_field(sg: SendGridServer) -> None:
    errors = rejected(sg, body_with(lambda b: b.pop("from")))

    assert errors == [{"message": "The from field is required.", "field": "from", "help": None}]
    assert sg.accepted == []


def test_a_bad_address_and_a_string_custom_args_are_schema_errors(sg: SendGridServer) -> None:
    def change(body: dict[str, Any]) -> None:
        body["personalizations"][0]["to"][0]["email"] = "not-an-address"
        body["custom_args"] = "issue=7"

    fields = {e["field"] for e in rejected(sg, body_with(change))}

    assert fields == {"personalizations.0.to.0.email", "custom_args"}


def _many_personalizations(body: dict[str, Any]) -> None:
    body["personalizations"] = [{"to": [{"email": f"r{i}@example.com"}]} for i in range(1001)]


def _many_recipients(body: dict[str, Any]) -> None:
    body["personalizations"][0]["to"] = [{"email": f"r{i}@example.com"} for i in range(1001)]


def _same_address_twice(body: dict[str, Any]) -> None:
    body["personalizations"].append({"bcc": [{"email": "ADA@example.com"}], "to": []})


def _oversize_merged_custom_args(body: dict[str, Any]) -> None:
    # Neither half reaches the limit; merged, they do.
    body["custom_args"] = {"campaign": "c" * 6000}
    body["personalizations"][0]["custom_args"] = {"token": "t" * 4000}


RULES: dict[str, tuple[Callable[[dict[str, Any]], object], str]] = {
    "1,001 personalizations": (_many_personalizations, "personalizations"),
    "1,001 recipients": (_many_recipients, "personalizations"),
    "an address twice": (_same_address_twice, "personalizations.1.bcc"),
    "reserved header To": (
        lambda b: b["personalizations"][0].update(headers={"To": "x@example.com"}),
        "personalizations.0.headers",
    ),
    "reserved header dkim-signature": (
        lambda b: b.update(headers={"DKIM-Signature": "v=1"}),
        "headers",
    ),
    "11 categories": (lambda b: b.update(categories=[f"c{i}" for i in range(11)]), "categories"),
    "send_at 4 days ahead": (lambda b: b.update(send_at=int(time.time()) + 4 * 86400), "send_at"),
    "oversize custom_args": (_oversize_merged_custom_args, "personalizations.0.custom_args"),
    "oversize substitutions": (
        lambda b: b["personalizations"][0].update(substitutions={"-x-": "s" * 10_000}),
        "personalizations.0.substitutions",
    ),
    "a number in custom_args": (
        lambda b: b["personalizations"][0].update(custom_args={"issue": 7}),
        "personalizations.0.custom_args",
    ),
    "reply_to and reply_to_list": (
        lambda b: b.update(
            reply_to={"email": "editor@curator.test"},
            reply_to_list=[{"email": "editor@curator.test"}],
        ),
        "reply_to_list",
    ),
}


@pytest.mark.parametrize("change, field", RULES.values(), ids=RULES.keys())
def test_each_rule_the_schema_does_not_encode_is_enforced(
    sg: SendGridServer, change: Callable[[dict[str, Any]], object], field: str
) -> None:
    body = body_with(change)

    assert field in {e["field"] for e in rejected(sg, body)}
    assert sg.accepted == []
    # The rules hold on their own too, for when the schema file is not there.
    assert field in {e.field for e in rules.check_body(body, None, time.time())}


def test_the_valid_body_passes_the_rules_alone() -> None:
    assert rules.check_body(VALID, None, time.time()) == []


def test_the_schema_is_found_only_beside_a_repository(tmp_path: Path) -> None:
    assert rules.find_schema(REPO / "curator") == REPO.parent / rules.SCHEMA_RELATIVE
    (tmp_path / "pyproject.toml").touch()
    assert rules.find_schema(tmp_path) is None


def test_a_body_that_is_not_json_is_rejected(sg: SendGridServer) -> None:
    request = httpx.post(
        f"{sg.url}/v3/mail/send",
        content=b"{not json",
        headers={"Authorization": "Bearer SG.test"},
    )

    assert request.status_code == 400
    assert request.json()["errors"][0]["message"].startswith("The request body is not valid JSON")


def test_a_wrong_key_is_401_and_a_forbidden_key_403(sg: SendGridServer) -> None:
    with pytest.raises(http_errors.UnauthorizedError) as unauthorized:
        post(sg, VALID, key="SG.wrong")
    with pytest.raises(http_errors.ForbiddenError) as forbidden:
        post(sg, VALID, key="SG.forbidden.key")

    assert unauthorized.value.to_dict["errors"][0]["message"] == "authorization required"
    assert forbidden.value.to_dict["errors"][0]["field"] is None
    assert httpx.post(f"{sg.url}/v3/mail/send", json=VALID).status_code == 401
    assert sg.accepted == []


def test_sandbox_mode_validates_but_records_nothing(sg: SendGridServer) -> None:
    sandboxed = body_with(lambda b: b.update(mail_settings={"sandbox_mode": {"enable": True}}))

    assert post(sg, sandboxed).status_code == 200
    sandboxed.pop("from")
    assert [e["field"] for e in rejected(sg, sandboxed)] == ["from"]
    assert sg.accepted == []
    assert sg.stats()["status_counts"] == {"200": 1, "400": 1}


def test_scripted_answers_come_in_order_and_429_says_when_to_retry(sg: SendGridServer) -> None:
    sg.script(["429", "500", "202"])

    with pytest.raises(http_errors.TooManyRequestsError) as too_many:
        post(sg, VALID)
    with pytest.raises(http_errors.InternalServerError):
        post(sg, VALID)
    assert post(sg, VALID).status_code == 202

    headers = too_many.value.headers
    assert headers["X-RateLimit-Remaining"] == "0"
    assert int(headers["X-RateLimit-Limit"]) > 0
    assert time.time() < int(headers["X-RateLimit-Reset"]) <= time.time() + 2
    assert len(sg.accepted) == 1


def test_a_lost_answer_is_recorded_but_the_client_sees_a_network_error(
    sg: SendGridServer,
) -> None:
    sg.script(["lost"])

    with pytest.raises(ConnectionError):
        client_for(sg).send(newsletter(["ada@example.com"]))

    assert sg.recipients() == ["ada@example.com"]
    assert sg.stats()["status_counts"] == {"lost": 1}


def _statuses(server: SendGridServer, n: int) -> list[int]:
    statuses = []
    for _ in range(n):
        try:
            statuses.append(post(server, VALID).status_code)
        except http_errors.HTTPError as error:
            statuses.append(error.status_code)
    return statuses


def test_fail_rate_with_a_seed_is_deterministic() -> None:
    faults = Faults(fail_rate=0.3, kinds=("429", "500", "503"), seed=42)
    with SendGridServer(faults=faults) as first, SendGridServer(faults=faults) as second:
        run = _statuses(first, 40)
        assert _statuses(second, 40) == run
        second.faults = faults  # setting the faults restarts their sequence
        assert _statuses(second, 40) == run
        second.set_faults(seed=7)
        assert _statuses(second, 40) != run

    assert {429, 500, 503} <= set(run)
    assert 5 <= sum(s != 202 for s in run) <= 20
    assert len(first.accepted) == run.count(202)


def test_slow_answers_wait_then_answer() -> None:
    with SendGridServer(faults=Faults(fail_rate=1.0, kinds=("slow",), slow_s=0.3)) as sg:
        started = time.monotonic()
        assert post(sg, VALID).status_code == 202
        assert time.monotonic() - started >= 0.3


def test_a_body_over_the_limit_is_413() -> None:
    body = body_with(lambda b: b["content"][0].update(value="x" * 5000))
    with SendGridServer(faults=Faults(max_body_bytes=4000)) as sg:
        with pytest.raises(http_errors.PayloadTooLargeError):
            post(sg, body)
        sg.set_faults(max_body_bytes=None)
        assert post(sg, body).status_code == 202


def test_a_body_of_30_mb_is_413(sg: SendGridServer) -> None:
    body = body_with(lambda b: b["content"][0].update(value="x" * rules.MAX_BODY_BYTES))

    with pytest.raises(http_errors.PayloadTooLargeError) as caught:
        post(sg, body)

    assert caught.value.to_dict["errors"][0]["message"] == "content too large"


def test_the_rate_limit_answers_429_with_a_reset() -> None:
    with SendGridServer(faults=Faults(rate_limit_per_s=2)) as sg:
        statuses = _statuses(sg, 5)  # over at most two seconds: one of them sees 3 or more

    assert statuses.count(429) >= 1
    assert statuses.count(202) == len(sg.accepted) >= 2


def test_duplicates_are_per_address_and_issue(sg: SendGridServer) -> None:
    client = client_for(sg)
    client.send(newsletter(["ada@example.com", "grace@example.com"]))
    client.send(newsletter(["ADA@example.com"]))
    post(sg, body_with(lambda b: b["personalizations"][0].update(custom_args={"issue": "8"})))

    assert sg.duplicates() == {("ada@example.com", "7"): 2}
    assert sg.stats()["duplicates"] == 1
    assert sorted(sg.recipients()) == [
        "ADA@example.com",
        "ada@example.com",
        "ada@example.com",
        "grace@example.com",
    ]


def test_without_bodies_it_keeps_counts_and_duplicates() -> None:
    with SendGridServer(record_bodies=False) as sg:
        client_for(sg).send(newsletter(["ada@example.com", "grace@example.com"]))
        client_for(sg).send(newsletter(["Ada@example.com"]))

    assert sg.accepted == []
    assert sorted(sg.recipients()) == ["ada@example.com", "ada@example.com", "grace@example.com"]
    assert sg.duplicates() == {("ada@example.com", "7"): 2}


def test_concurrent_senders_are_all_recorded(sg: SendGridServer) -> None:
    def send(worker: int) -> None:
        with httpx.Client(base_url=sg.url, headers={"Authorization": "Bearer SG.test"}) as http:
            for n in range(25):
                body = copy.deepcopy(VALID)
                body["personalizations"][0]["to"] = [{"email": f"w{worker}.{n}@x.test"}]
                assert http.post("/v3/mail/send", json=body).status_code == 202

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(8)))

    assert len(set(sg.recipients())) == len(sg.accepted) == 200
    assert sg.stats()["status_counts"] == {"202": 200}


def test_stop_closes_idle_keep_alive_connections() -> None:
    sg = SendGridServer().start()
    with httpx.Client(base_url=sg.url, headers={"Authorization": "Bearer SG.test"}) as http:
        for _ in range(3):
            assert http.post("/v3/mail/send", json=VALID).status_code == 202
        started = time.monotonic()
        sg.stop()  # while the client still holds its connection open
        assert time.monotonic() - started < 2
    assert len(sg.accepted) == 3


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_standalone_server_reports_stats() -> None:
    command = [sys.executable, "-m", "curator.testing.sendgrid_server", "--port", "0"]
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().split()[-1]
            sg_client = SendGridAPIClient("SG.test", host=url)
            sg_client.client.timeout = 10
            sg_client.send(newsletter(["ada@example.com", "grace@example.com"]))
            sg_client.send(newsletter(["ada@example.com"]))
            with pytest.raises(http_errors.BadRequestsError):
                sg_client.client.mail.send.post(request_body={"personalizations": []})

            assert _get_json(f"{url}/_stats") == {
                "requests": 3,
                "accepted_requests": 2,
                "recipients": 3,
                "duplicates": 1,
                "status_counts": {"202": 2, "400": 1},
            }
            reset = urllib.request.Request(f"{url}/_reset", method="POST")
            with urllib.request.urlopen(reset, timeout=10) as response:
                assert response.status == 204
            assert _get_json(f"{url}/_stats")["requests"] == 0
        finally:
            process.terminate()
        assert process.wait(timeout=10) == 0
