"""A CalDAV password goes only where it may: over https (plain http only to loopback in local
development), never after a redirect to another origin or from https to http. Scripted servers record
every request, so a test sees exactly which host received the Authorization header."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx
import pytest

from calsync.core.errors import ProviderRejectedError
from calsync.domain.event import CalendarEvent, EventKey
from calsync.domain.model import Integration, Provider
from calsync.http.origins import may_carry_credentials, same_origin
from calsync.providers import caldav_discovery
from calsync.providers.caldav import CalDavProvider

PRINCIPAL = ('<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response><d:href>/</d:href><d:propstat>'
             "<d:prop><d:current-user-principal><d:href>/alice/</d:href></d:current-user-principal></d:prop>"
             "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>")
EVENT = CalendarEvent(summary="#A1", description="", location=None, start=dt.datetime(2026, 3, 8, 9, tzinfo=dt.UTC),
                      end=dt.datetime(2026, 3, 8, 10, tzinfo=dt.UTC), timezone="UTC", all_day=False)


def server(script: Callable[[httpx.Request], httpx.Response]) -> tuple[httpx.Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return script(request)

    return httpx.Client(transport=httpx.MockTransport(handler), auth=("alice", "app-password")), seen


def redirecting_to(location: str) -> Callable[[httpx.Request], httpx.Response]:
    def script(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/caldav"):
            return httpx.Response(301, headers={"Location": location})
        return httpx.Response(207, text=PRINCIPAL)
    return script


def hosts_given_the_password(seen: list[httpx.Request]) -> set[str]:
    return {f"{r.url.scheme}://{r.url.host}" for r in seen if "authorization" in r.headers}


def test_a_redirect_within_the_origin_is_followed() -> None:
    client, seen = server(redirecting_to("/dav/"))
    assert caldav_discovery.principal_url(client, "https://dav.example") == "https://dav.example/alice/"
    assert hosts_given_the_password(seen) == {"https://dav.example"}


@pytest.mark.parametrize("location", [
    "https://collector.example/dav/",   # another host
    "http://dav.example/dav/",          # the same host, downgraded to cleartext
    "https://dav.example:8443/dav/",    # another port
])
def test_a_redirect_to_another_origin_is_refused_before_anything_is_sent_there(location: str) -> None:
    client, seen = server(redirecting_to(location))
    with pytest.raises(ProviderRejectedError) as refused:
        caldav_discovery.principal_url(client, "https://dav.example")
    assert refused.value.reason == "redirect_to_other_host"
    assert hosts_given_the_password(seen) == {"https://dav.example"}


@pytest.mark.parametrize("url", ["http://dav.example", "http://127.0.0.1:5232", "ftp://dav.example"])
def test_cleartext_servers_are_refused_outside_local_development(url: str) -> None:
    client, seen = server(lambda request: httpx.Response(207, text=PRINCIPAL))
    with pytest.raises(ProviderRejectedError) as refused:
        caldav_discovery.principal_url(client, url, local_development=False)
    assert refused.value.reason == "insecure_url" and seen == []


def test_local_development_allows_plain_http_to_loopback_only() -> None:
    client, seen = server(lambda request: httpx.Response(207, text=PRINCIPAL))
    assert caldav_discovery.principal_url(client, "http://127.0.0.1:5232", local_development=True)
    with pytest.raises(ProviderRejectedError):
        caldav_discovery.principal_url(client, "http://dav.example", local_development=True)
    assert hosts_given_the_password(seen) == {"http://127.0.0.1"}


def provider(url: str, script: Callable[[httpx.Request], httpx.Response], *,
             local_development: bool = False) -> tuple[CalDavProvider, list[httpx.Request]]:
    client, seen = server(script)
    integration = Integration(integration_id="int-1", tenant_id="tenant-1", practitioner_id="dr-1",
                              provider=Provider.CALDAV, calendar_id=url)
    return CalDavProvider(integration, client=client, local_development=local_development), seen


def test_the_provider_never_writes_to_a_cleartext_calendar_outside_local_development() -> None:
    writer, seen = provider("http://dav.example/alice/calendar/", lambda r: httpx.Response(201))
    with pytest.raises(ProviderRejectedError) as refused:
        writer.upsert(EventKey("int-1", "tenant-1", "apt-1"), EVENT, None)
    assert refused.value.reason == "insecure_url" and seen == []


def test_the_provider_follows_no_redirect() -> None:
    writer, seen = provider("https://dav.example/alice/calendar/",
                            lambda r: httpx.Response(307, headers={"Location": "https://collector.example/x"}))
    with pytest.raises(ProviderRejectedError):
        writer.upsert(EventKey("int-1", "tenant-1", "apt-1"), EVENT, None)
    assert hosts_given_the_password(seen) == {"https://dav.example"} and len(seen) == 1


@pytest.mark.parametrize(("url", "local", "allowed"), [
    ("https://dav.example/a/", False, True),
    ("https://user:pw@dav.example/a/", False, False),
    ("http://dav.example/a/", True, False),
    ("http://localhost:5232/a/", True, True),
    ("https:///a/", False, False),
])
def test_which_urls_may_carry_credentials(url: str, local: bool, allowed: bool) -> None:
    assert may_carry_credentials(url, local_development=local) is allowed


def test_origins_compare_scheme_host_and_port() -> None:
    assert same_origin("https://a.example/x", "https://A.example:443/y")
    assert not same_origin("https://a.example/x", "http://a.example/x")


def test_the_shared_client_keeps_no_cookie_from_one_clinician_for_another() -> None:
    from calsync.http.client import new_client

    sent: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        return httpx.Response(201, headers={"Set-Cookie": "session=alice-session; Path=/", "ETag": '"1"'})

    shared = new_client(5.0, transport=httpx.MockTransport(answer))
    for name in ("alice", "bob"):
        integration = Integration(integration_id=f"int-{name}", tenant_id="tenant-1", practitioner_id=name,
                                  provider=Provider.CALDAV, calendar_id=f"https://dav.example/{name}/calendar/")
        writer = CalDavProvider(integration, client=shared)
        writer.upsert(EventKey(f"int-{name}", "tenant-1", "apt-1"), EVENT, None)
    assert sent == [None, None]
