"""The SSRF guard for user-supplied URLs (``calsync.http.guard``): every address a name resolves to is checked,
the connection goes to the checked address (so DNS cannot change its answer in between), TLS still verifies
the original name, redirects are checked again, and credentials never leave their origin."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest
import trustme

from calsync.http import guard
from calsync.http.guard import BlockedUrl

PUBLIC = "93.184.215.14"


def resolver(*addresses: str) -> guard.Resolver:
    return lambda host, port: list(addresses)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "169.254.170.2", "100.64.0.1",
    "0.0.0.0", "224.0.0.1",  # noqa: S104 - an address refused, nothing binds to it "::1", "fd00:ec2::254", "fe80::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    "198.18.0.1",
])
def test_addresses_that_are_not_public_are_refused(address):
    assert not guard.allowed_address(address, local_development=False)
    with pytest.raises(BlockedUrl) as refused:
        guard.check("https://calendar.example/export.ics", local_development=False, resolver=resolver(address))
    assert refused.value.reason == "address"


def test_one_private_answer_among_public_ones_is_enough_to_refuse():
    with pytest.raises(BlockedUrl):
        guard.check("https://calendar.example/x.ics", local_development=False, resolver=resolver(PUBLIC, "10.0.0.5"))


def test_a_public_address_is_connected_to_directly_keeping_the_name():
    target = guard.check("https://calendar.example/feeds/x.ics?token=abc", local_development=False,
                         resolver=resolver(PUBLIC))
    assert target.connect_url == f"https://{PUBLIC}:443/feeds/x.ics?token=abc"
    assert target.host_header == "calendar.example"


@pytest.mark.parametrize(("url", "reason"), [
    ("http://calendar.example/x.ics", "scheme"), ("ftp://calendar.example/x", "scheme"),
    ("file:///etc/passwd", "scheme"), ("https://user:pw@calendar.example/x", "credentials_in_url"),
    ("https:///x", "no_host"), ("https://calendar.example:99999/x", "malformed"),
])
def test_malformed_or_unsafe_urls_are_refused(url, reason):
    with pytest.raises(BlockedUrl) as refused:
        guard.check(url, local_development=False, resolver=resolver(PUBLIC))
    assert refused.value.reason == reason


def test_local_development_may_reach_loopback_but_never_the_metadata_service():
    target = guard.check("http://127.0.0.1:8080/x", local_development=True, resolver=resolver("127.0.0.1"))
    assert target.scheme == "http"
    for address in ("169.254.169.254", "fd00:ec2::254", "0.0.0.0"):  # noqa: S104 - refused, never bound
        with pytest.raises(BlockedUrl):
            guard.check("http://metadata/x", local_development=True, resolver=resolver(address))


def test_every_redirect_hop_is_checked_again():
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "https://inside.example/secret"})

    addresses = {"calendar.example": [PUBLIC], "inside.example": ["10.0.0.7"]}
    with httpx.Client(transport=httpx.MockTransport(answer)) as client, pytest.raises(BlockedUrl):
        guard.request(client, "GET", "https://calendar.example/x.ics", local_development=False,
                      resolver=lambda host, port: addresses[host])
    assert seen == [f"https://{PUBLIC}/x.ics"]  # the first hop, to the checked address; never the second


def test_credentials_follow_a_redirect_only_within_their_origin():
    seen: list[tuple[str, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers["host"], request.headers.get("authorization")))
        if request.url.path == "/start":
            return httpx.Response(307, headers={"Location": "/moved"})
        if request.url.path == "/moved":
            return httpx.Response(302, headers={"Location": "https://elsewhere.example/take"})
        return httpx.Response(200)

    credentials = {"Authorization": "Bearer platform-token"}
    with httpx.Client(transport=httpx.MockTransport(answer)) as client, pytest.raises(BlockedUrl) as refused:
        guard.request(client, "GET", "https://api.example/start", local_development=False, credentials=credentials,
                      resolver=resolver(PUBLIC))
    assert refused.value.reason == "redirect_to_other_origin"
    assert seen == [("api.example", "Bearer platform-token"), ("api.example", "Bearer platform-token")]


def test_a_redirect_without_credentials_may_leave_its_origin():
    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["host"] == "calendar.example":
            return httpx.Response(302, headers={"Location": "https://cdn.example/x.ics"})
        return httpx.Response(200, text="BEGIN:VCALENDAR")

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        response = guard.request(client, "GET", "https://calendar.example/x.ics", local_development=False,
                                 resolver=resolver(PUBLIC))
    assert response.text == "BEGIN:VCALENDAR"


@pytest.mark.parametrize(("url", "local_development"), [
    ("http://127.0.0.1:8080/api", False), ("http://10.0.0.8/api", True), ("https://user@api.example/x", False),
])
def test_credentials_go_only_where_credentials_may_go(url, local_development):
    def answer(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    with httpx.Client(transport=httpx.MockTransport(answer)) as client, pytest.raises(BlockedUrl) as refused:
        guard.request(client, "GET", url, local_development=local_development,
                      credentials={"Authorization": "Basic x"}, resolver=resolver("127.0.0.1"))
    assert refused.value.reason == "insecure_url"


def test_redirect_loops_end():
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"Location": "/again"})

    with httpx.Client(transport=httpx.MockTransport(answer)) as client, pytest.raises(BlockedUrl) as refused:
        guard.request(client, "GET", "https://calendar.example/x", local_development=False, resolver=resolver(PUBLIC))
    assert refused.value.reason == "too_many_redirects"


# -- TLS against the checked address still verifies the name ---------------------------------------------


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.headers.get("Host", "").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def tls_server() -> Iterator[tuple[int, trustme.CA]]:
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("calendar.test").configure_cert(context)
    server = HTTPServer(("127.0.0.1", 0), _Ok)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], authority
    server.shutdown()
    server.server_close()


def test_tls_verifies_the_original_name_while_connecting_to_the_checked_address(tls_server):
    port, authority = tls_server
    trusted = ssl.create_default_context()
    authority.configure_trust(trusted)
    with httpx.Client(verify=trusted) as client:
        response = guard.request(client, "GET", f"https://calendar.test:{port}/x", local_development=True,
                                 resolver=resolver("127.0.0.1"))
        assert (response.status_code, response.text) == (200, f"calendar.test:{port}")
        with pytest.raises(httpx.ConnectError):  # a certificate for another name is refused
            guard.request(client, "GET", f"https://other.test:{port}/x", local_development=True,
                          resolver=resolver("127.0.0.1"))
