"""Server-side request forgery: links an editor adds, and feeds, reach only public addresses.

Real servers on 127.0.0.x, with CURATOR_FETCH_ALLOW_PRIVATE off. A refused fetch never
reaches the server, and every refusal or failure reads the same for the editor.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest

from curator import netguard
from curator.ingest.fetch import Fetcher, FetchRequest
from curator.web.pagemeta import FETCH_FAILED, fetch_page_meta
from tests.ingest.feedserver import FeedServer, redirect, respond
from tests.security.conftest import add_user, post, sign_in

PAGE = b"<html><head><title>Internal admin</title></head><body>secret</body></html>"


@pytest.fixture
def internal():
    """A server on 127.0.0.1 playing an internal service nobody outside may read."""
    with FeedServer("127.0.0.1") as server:
        server.routes["/"] = respond(200, PAGE, {"Content-Type": "text/html"})
        yield server


@pytest.fixture
def outside():
    """A server on 127.0.0.2 playing a public site (the guard is told to treat it as public)."""
    with FeedServer("127.0.0.2") as server:
        public = PAGE.replace(b"Internal admin", b"Public page")
        server.routes["/page"] = respond(200, public, {"Content-Type": "text/html"})
        yield server


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("form", [
    "127.0.0.1", "localhost", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]",
])
def test_the_desk_refuses_loopback_in_every_spelling(internal, form):
    meta = fetch_page_meta(f"http://{form}:{internal.port}/", 5)
    assert meta == fetch_page_meta(f"http://{form}:{internal.port}/", 5)
    assert (meta.title, meta.error) == ("", FETCH_FAILED)
    assert internal.requests() == []


def test_a_redirect_to_loopback_is_refused_at_that_hop(internal, outside):
    outside.routes["/jump"] = redirect(302, internal.url("/"))
    guard = netguard.Guard(also_allowed=frozenset({"127.0.0.2"}))
    meta = fetch_page_meta(outside.url("/jump"), 5, guard=guard)
    assert meta.error == FETCH_FAILED and len(outside.requests("/jump")) == 1
    assert internal.requests() == []
    # The same guard lets the stand-in public site through: the refusal was the redirect's target.
    assert fetch_page_meta(outside.url("/page"), 5, guard=guard).title == "Public page"


def test_the_connection_goes_to_the_checked_address_keeping_the_name(outside):
    """DNS rebinding: the checked address is the one connected to; Host keeps the name."""
    guard = netguard.Guard(also_allowed=frozenset({"127.0.0.2"}))
    guard.verdicts[("rebind.invalid", outside.port)] = ["127.0.0.2"]  # as if checked a moment ago
    meta = fetch_page_meta(f"http://rebind.invalid:{outside.port}/page", 5, guard=guard)
    assert meta.title == "Public page"
    assert outside.requests("/page")[0].headers["host"] == f"rebind.invalid:{outside.port}"


def test_closed_ports_open_ports_and_refusals_read_the_same(internal, outside):
    guard = lambda: netguard.Guard(also_allowed=frozenset({"127.0.0.2", "127.0.0.1"}))  # noqa: E731
    closed = fetch_page_meta(f"http://127.0.0.1:{_closed_port()}/", 5, guard=guard())
    not_html = fetch_page_meta(outside.url("/missing"), 5, guard=guard())
    refused = fetch_page_meta(internal.url("/"), 5)
    assert closed.error == not_html.error == refused.error == FETCH_FAILED


@pytest.mark.parametrize("address", [
    "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
    "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "ff02::1", "::ffff:10.0.0.1",
    "64:ff9b::7f00:1", "2002:7f00:1::1",
])
def test_every_non_public_address_is_refused(address):
    assert not netguard.is_public(ipaddress.ip_address(address))
    with pytest.raises(netguard.BlockedAddress):
        netguard.check_addresses("example.test", [address])


def test_a_name_with_one_private_address_among_public_ones_is_refused():
    with pytest.raises(netguard.BlockedAddress, match="10.0.0.1"):
        netguard.check_addresses("mixed.test", ["93.184.215.14", "10.0.0.1"])
    assert netguard.check_addresses("public.test", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])


def test_the_desk_add_link_form_refuses_an_internal_address(settings, internal, tmp_path, engine):
    from fastapi.testclient import TestClient

    from curator import editorial
    from curator.web import create_app
    from tests import newsroom
    from tests.security.conftest import SECRET

    conf = settings.model_copy(update={
        "secret_key": SECRET, "feeds": newsroom.write_feeds_yaml(tmp_path), "fetch_allow_private": False,
    })
    with engine.begin() as conn:
        editorial.ensure_issue(conn, "2026-12", "test")
    add_user(engine, "ed@example.org")
    with TestClient(create_app(conf, engine), base_url="https://news.example.org") as client:
        token = sign_in(client, "ed@example.org")
        post(client, "/desk/2026-12/links", {"url": internal.url("/"), "topic": "learning"}, token)
        page = client.get("/desk/2026-12").text
    assert "could not fetch that page" in page and "Internal admin" not in page
    assert internal.requests() == []


def test_a_feed_on_a_private_address_is_refused_and_says_how_to_allow_it(settings, internal):
    internal.routes["/feed"] = respond(200, b"<rss/>", {"Content-Type": "application/rss+xml"})
    strict = settings.model_copy(update={"fetch_allow_private": False})

    async def fetch(conf):
        async with Fetcher(conf) as fetcher:
            return await fetcher.fetch(FetchRequest(internal.url("/feed")))

    result = asyncio.run(fetch(strict))
    assert result.status == "error" and "refused" in result.error
    assert "CURATOR_FETCH_ALLOW_PRIVATE=true" in result.error
    assert internal.requests() == []
    allowed = asyncio.run(fetch(settings.model_copy(update={"fetch_allow_private": True})))
    assert allowed.status != "error" and len(internal.requests("/feed")) == 1


def _cli(db_url, feeds_file, *args: str):
    from typer.testing import CliRunner

    from curator.cli import app as cli_app
    from curator.cli._app import state

    try:
        return CliRunner().invoke(cli_app, ["--database-url", db_url, "--feeds", str(feeds_file), *args])
    finally:
        if state._engine is not None:
            state._engine.dispose()


TOPICS = "topics:\n  - name: career\n    keywords: [career]\n"


def test_opml_import_and_feeds_check_say_a_feed_is_refused(db_url, tmp_path, internal, monkeypatch):
    monkeypatch.setenv("CURATOR_FETCH_ALLOW_PRIVATE", "false")
    internal.routes["/feed"] = respond(200, b"<rss/>", {"Content-Type": "application/rss+xml"})
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(TOPICS + f"feeds:\n  - url: {internal.url('/feed')}\n    topics: [career]\n")
    checked = _cli(db_url, feeds_file, "feeds", "check", "--json")
    assert checked.exit_code == 1
    assert "refused" in checked.stdout and "CURATOR_FETCH_ALLOW_PRIVATE=true" in checked.stdout
    assert internal.requests() == []

    feeds_file.write_text(TOPICS + "feeds: []\n")
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body>'
        f'<outline text="Local" xmlUrl="http://localhost:{internal.port}/feed"/></body></opml>'
    )
    imported = _cli(db_url, feeds_file, "feeds", "import", str(opml))
    assert imported.exit_code == 0, imported.output
    text = " ".join(imported.output.split())
    assert "Added 0 feeds" in text and "refused 'http://localhost:" in text
    assert "CURATOR_FETCH_ALLOW_PRIVATE=true" in text


def _certificate(tmp_path, name: str):
    """A self-signed certificate for `name`, and a client SSL context that trusts only it."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def test_tls_to_the_pinned_address_verifies_the_name(tmp_path):
    """Pinned to 127.0.0.2 for https://pinned.invalid: SNI and the certificate check use the name."""
    import httpx

    server_context, client_context = _certificate(tmp_path, "pinned.invalid")
    seen_names: list[str | None] = []
    server_context.sni_callback = lambda sock, name, ctx: seen_names.append(name)
    with FeedServer("127.0.0.2") as tls:
        tls._server.socket = server_context.wrap_socket(tls._server.socket, server_side=True)
        tls.routes["/page"] = respond(200, b"<title>Over TLS</title>", {"Content-Type": "text/html"})
        guard = netguard.Guard(also_allowed=frozenset({"127.0.0.2"}))
        guard.verdicts[("pinned.invalid", tls.port)] = ["127.0.0.2"]
        transport = netguard.GuardedTransport(guard, verify=client_context)
        with httpx.Client(transport=transport, timeout=5) as client:
            response = client.get(f"https://pinned.invalid:{tls.port}/page")
        assert response.status_code == 200 and "Over TLS" in response.text
        assert seen_names == ["pinned.invalid"]
        # The same server under another name fails the certificate check: the name is what is verified.
        guard.verdicts[("other.invalid", tls.port)] = ["127.0.0.2"]
        other = netguard.GuardedTransport(guard, verify=client_context)
        refused = pytest.raises(httpx.ConnectError, match="certificate|hostname")
        with httpx.Client(transport=other, timeout=5) as client, refused:
            client.get(f"https://other.invalid:{tls.port}/page")
