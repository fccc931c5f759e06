"""Addresses a person typed in: only public ones are reached (every resolved address checked, the
checked one connected to), loopback only in local development; credentials follow redirects only within
the same origin, and discovered calendar addresses only within the server's own site."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from calsync.core.errors import ProviderRejectedError
from calsync.http.guarded import ForbiddenAddressError, allowed_address, checked_address, guarded_client
from calsync.http.outcomes import redirect_location
from calsync.providers.caldav_discovery import same_site


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.1", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "fd00:ec2::254",
    "100.64.0.1", "0.0.0.0", "::",  # noqa: S104 - addresses to refuse, not to bind "224.0.0.1", "240.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    "fe80::1", "fc00::1", "198.18.0.1",
])
def test_private_loopback_link_local_and_metadata_addresses_are_refused(address):
    assert not allowed_address(ipaddress.ip_address(address), allow_loopback=False)
    with pytest.raises(ForbiddenAddressError):
        checked_address(address, 443, allow_loopback=False)


@pytest.mark.parametrize("address", ["17.253.144.10", "2620:149:af0::10", "93.184.216.34"])
def test_public_addresses_are_allowed(address):
    assert allowed_address(ipaddress.ip_address(address), allow_loopback=False)


def test_local_development_allows_loopback_and_nothing_else_more():
    assert checked_address("127.0.0.1", 5232, allow_loopback=True) == "127.0.0.1"
    assert checked_address("localhost", 5232, allow_loopback=True) in ("127.0.0.1", "::1")
    with pytest.raises(ForbiddenAddressError):
        checked_address("10.0.0.1", 5232, allow_loopback=True)
    with pytest.raises(ForbiddenAddressError):
        checked_address("localhost", 5232, allow_loopback=False)  # a name resolving to loopback


def test_the_check_happens_at_the_connection():
    with guarded_client(2, allow_loopback=False) as client, pytest.raises(ForbiddenAddressError):
        client.get("http://127.0.0.1:9/")
    with guarded_client(2, allow_loopback=False) as client, pytest.raises(ForbiddenAddressError):
        client.get("http://localhost:9/")


def test_no_unresolvable_name_gets_through():
    with pytest.raises(ForbiddenAddressError):
        checked_address("no-such-host.invalid", 443, allow_loopback=True)


def answer(status: int, location: str) -> httpx.Response:
    return httpx.Response(status, headers={"Location": location})


def test_redirects_are_followed_within_the_same_origin_only():
    url = "https://dav.example.com/.well-known/caldav"
    assert redirect_location("caldav", answer(301, "/dav/"), url) == "https://dav.example.com/dav/"
    assert redirect_location("caldav", httpx.Response(207), url) is None
    for elsewhere in ("https://evil.example.net/dav/", "http://dav.example.com/dav/",
                      "https://dav.example.com:8443/dav/"):
        with pytest.raises(ProviderRejectedError) as refused:
            redirect_location("caldav", answer(307, elsewhere), url)
        assert refused.value.reason == "redirect_to_other_host"


@pytest.mark.parametrize(("origin", "candidate", "allowed"), [
    ("https://caldav.icloud.com/", "https://p42-caldav.icloud.com/123/calendars/", True),
    ("https://caldav.icloud.com/", "https://caldav.icloud.com/123/", True),
    ("https://caldav.icloud.com/", "https://icloud.com.evil.example/", False),
    ("https://caldav.icloud.com/", "http://p42-caldav.icloud.com/", False),
    ("https://fastmail.com/", "https://caldav.fastmail.com/dav/", True),
    ("https://dav.example.com/", "https://example.org/", False),
    ("http://127.0.0.1:5232/", "https://127.0.0.1:5232/", True),
])
def test_discovered_addresses_stay_on_the_servers_own_site(origin, candidate, allowed):
    assert same_site(origin, candidate) is allowed
