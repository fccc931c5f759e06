"""A booking platform's URLs (its per-account API host, a calendar export) go through the one SSRF guard,
``calsync.http.guarded``: every address a name resolves to is checked, the connection goes to the checked
address (so DNS cannot change its answer in between), TLS still verifies the original name, every redirect
hop is a new checked connection, and credentials never leave their origin (``calsync.platforms.api.send``)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest
import trustme

from calsync.core.errors import ProviderRejectedError, ProviderUnavailableError
from calsync.http.guarded import ForbiddenAddressError, Resolver, checked_address, guarded_client
from calsync.platforms import api

PUBLIC = "93.184.215.14"
NAMES = ("calendar.test", "cdn.test", "api.test", "elsewhere.test", "inside.test")


def resolver(*addresses: str) -> Resolver:
    return lambda host, port: list(addresses)


def test_one_private_answer_among_public_ones_is_enough_to_refuse():
    with pytest.raises(ForbiddenAddressError):
        checked_address("calendar.example", 443, allow_loopback=False, resolve=resolver(PUBLIC, "10.0.0.5"))
    assert checked_address("calendar.example", 443, allow_loopback=False, resolve=resolver(PUBLIC)) == PUBLIC


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "169.254.170.2", "::ffff:169.254.169.254",
                                     "0.0.0.0", "10.0.0.8"])  # noqa: S104 - refused, never bound
def test_local_development_may_reach_loopback_but_never_the_metadata_service(address):
    assert checked_address("metadata", 80, allow_loopback=True, resolve=resolver("127.0.0.1")) == "127.0.0.1"
    with pytest.raises(ForbiddenAddressError):
        checked_address("metadata", 80, allow_loopback=True, resolve=resolver(address))


def refusing_client() -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    return httpx.Client(transport=httpx.MockTransport(answer))


@pytest.mark.parametrize("url", [
    "http://calendar.example/x.ics", "ftp://calendar.example/x", "file:///etc/passwd", "gopher://127.0.0.1/x",
    "https://user:pw@calendar.example/x", "https:///x", "https://calendar.example:99999/x", "https://[::1/x",
])
def test_malformed_or_unsafe_urls_are_refused_before_anything_is_sent(url):
    with refusing_client() as client, pytest.raises(ProviderRejectedError) as refused:
        api.send("doodle", client, "GET", url, local_development=False)
    assert refused.value.reason == "insecure_url"


@pytest.mark.parametrize(("url", "local_development"), [
    ("http://127.0.0.1:8080/api", False), ("http://10.0.0.8/api", True), ("https://user@api.example/x", False),
])
def test_credentials_go_only_where_credentials_may_go(url, local_development):
    with refusing_client() as client, pytest.raises(ProviderRejectedError) as refused:
        api.send("calendly", client, "GET", url, local_development=local_development,
                 credentials={"Authorization": "Basic x"})
    assert refused.value.reason == "insecure_url"


# -- over real connections: a TLS server on loopback that answers for several names -------------------------


@dataclass
class Site:
    """What the server answers, by (host, path), and what it was asked (host, authorization)."""

    port: int
    authority: trustme.CA
    routes: dict[tuple[str, str], tuple[int, dict[str, str], str]] = field(default_factory=dict)
    seen: list[tuple[str, str | None]] = field(default_factory=list)

    def url(self, host: str, path: str) -> str:
        return f"https://{host}:{self.port}{path}"

    def redirect(self, host: str, path: str, status: int, location: str) -> None:
        self.routes[(host, path)] = (status, {"Location": location}, "")

    def client(self, addresses: dict[str, str]) -> httpx.Client:
        """A guarded client (local development: loopback allowed) that trusts the site's CA and resolves
        each name to ``addresses[name]`` (loopback for the rest)."""
        trusted = ssl.create_default_context()
        self.authority.configure_trust(trusted)
        return guarded_client(5, allow_loopback=True, provider="platform", verify=trusted,
                              resolve=lambda host, port: [addresses.get(host, "127.0.0.1")])


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host = self.headers.get("Host", "").split(":")[0]
            site.seen.append((host, self.headers.get("Authorization")))
            status, headers, body = site.routes.get((host, self.path), (200, {}, self.headers.get("Host", "")))
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body.encode()))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(*NAMES).configure_cert(context)
    server = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    found = Site(server.server_address[1], authority)
    server.RequestHandlerClass = _handler(found)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


def test_tls_verifies_the_original_name_while_connecting_to_the_checked_address(site):
    with site.client({}) as client:
        response = api.send("doodle", client, "GET", site.url("calendar.test", "/x"), local_development=True)
        assert (response.status_code, response.text) == (200, f"calendar.test:{site.port}")
        with pytest.raises(ProviderUnavailableError):  # a certificate for another name is refused
            api.send("doodle", client, "GET", site.url("other.test", "/x"), local_development=True)


def test_every_redirect_hop_is_checked_again(site):
    site.redirect("calendar.test", "/x.ics", 302, site.url("inside.test", "/secret"))
    with site.client({"inside.test": "10.0.0.7"}) as client, pytest.raises(ProviderRejectedError) as refused:
        api.send("doodle", client, "GET", site.url("calendar.test", "/x.ics"), local_development=True)
    assert (refused.value.provider, refused.value.reason) == ("doodle", "address_not_allowed")
    assert site.seen == [("calendar.test", None)]  # the first hop; never the second


def test_a_redirect_to_the_metadata_service_is_refused(site):
    site.redirect("calendar.test", "/x.ics", 307, "http://169.254.169.254/latest/meta-data/")
    with site.client({}) as client, pytest.raises(ProviderRejectedError):
        api.send("doodle", client, "GET", site.url("calendar.test", "/x.ics"), local_development=True)
    assert site.seen == [("calendar.test", None)]


def test_credentials_follow_a_redirect_only_within_their_origin(site):
    site.redirect("api.test", "/start", 307, "/moved")
    site.redirect("api.test", "/moved", 302, site.url("elsewhere.test", "/take"))
    credentials = {"Authorization": "Bearer platform-token"}
    with site.client({}) as client, pytest.raises(ProviderRejectedError) as refused:
        api.send("calendly", client, "GET", site.url("api.test", "/start"), local_development=True,
                 credentials=credentials)
    assert refused.value.reason == "redirect_to_other_host"
    assert site.seen == [("api.test", "Bearer platform-token"), ("api.test", "Bearer platform-token")]


def test_a_redirect_without_credentials_may_leave_its_origin(site):
    site.redirect("calendar.test", "/x.ics", 302, site.url("cdn.test", "/x.ics"))
    site.routes[("cdn.test", "/x.ics")] = (200, {}, "BEGIN:VCALENDAR")
    with site.client({}) as client:
        response = api.send("doodle", client, "GET", site.url("calendar.test", "/x.ics"), local_development=True)
    assert response.text == "BEGIN:VCALENDAR"
    assert [host for host, _ in site.seen] == ["calendar.test", "cdn.test"]


def test_redirect_loops_end(site):
    site.redirect("calendar.test", "/again", 301, "/again")
    with site.client({}) as client, pytest.raises(ProviderRejectedError) as refused:
        api.send("doodle", client, "GET", site.url("calendar.test", "/again"), local_development=True)
    assert refused.value.reason == "too_many_redirects"
    assert len(site.seen) == api.MAX_REDIRECTS + 1
