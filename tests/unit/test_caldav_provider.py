"""CalDAV request logic (conditional requests, 412 re-reads, 404s) against a scripted server.
The real-server behaviour is covered by tests/integration against Radicale."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx
import pytest

from calsync.core.errors import ProviderAuthError, ProviderConflictError, ProviderGoneError
from calsync.domain.event import CalendarEvent, EventKey, Written
from calsync.domain.model import Integration, Provider
from calsync.providers.caldav import CalDavProvider

COLLECTION = "https://dav.test/alice/calendar/"
KEY = EventKey("int-1", "tenant-1", "apt-1")
HREF = f"{COLLECTION}{KEY.digest}.ics"
EVENT = CalendarEvent(summary="#A1", description="Client: #A1", location=None,
                      start=dt.datetime(2026, 3, 8, 9, tzinfo=dt.UTC), end=dt.datetime(2026, 3, 8, 10, tzinfo=dt.UTC),
                      timezone="UTC", all_day=False)


def provider(script: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]) -> CalDavProvider:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return script(request)

    integration = Integration(integration_id="int-1", tenant_id="tenant-1", practitioner_id="dr-1",
                              provider=Provider.CALDAV, calendar_id=COLLECTION)
    return CalDavProvider(integration, client=httpx.Client(transport=httpx.MockTransport(handler)))


def test_create_uses_if_none_match_and_deterministic_name() -> None:
    seen: list[httpx.Request] = []
    written = provider(lambda r: httpx.Response(201, headers={"ETag": '"e1"'}), seen).upsert(KEY, EVENT, None)
    assert written == Written(HREF, '"e1"')
    assert [(r.method, str(r.url), r.headers.get("If-None-Match")) for r in seen] == [("PUT", HREF, "*")]
    body = seen[0].content.decode()
    assert f"UID:{KEY.uid}" in body and f"X-CALSYNC-KEY:{KEY.marker}" in body and "ATTENDEE" not in body


def test_create_that_exists_already_rereads_and_overwrites() -> None:
    # A lost response: the first PUT succeeded earlier, the replay gets 412
    answers = iter([httpx.Response(412), httpx.Response(200, headers={"ETag": '"e1"'}),
                    httpx.Response(204, headers={"ETag": '"e2"'})])
    seen: list[httpx.Request] = []
    written = provider(lambda r: next(answers), seen).upsert(KEY, EVENT, None)
    assert written.etag == '"e2"'
    assert [(r.method, r.headers.get("If-Match"), r.headers.get("If-None-Match")) for r in seen] == [
        ("PUT", None, "*"), ("GET", None, None), ("PUT", '"e1"', None)]


def test_update_with_stale_etag_rereads_once() -> None:
    answers = iter([httpx.Response(412), httpx.Response(200, headers={"ETag": '"e9"'}),
                    httpx.Response(204, headers={"ETag": '"e10"'})])
    seen: list[httpx.Request] = []
    written = provider(lambda r: next(answers), seen).upsert(KEY, EVENT, Written(HREF, '"e1"'))
    assert written.etag == '"e10"' and seen[2].headers["If-Match"] == '"e9"'


def test_update_of_a_resource_removed_by_the_clinician_recreates_it() -> None:
    answers = iter([httpx.Response(404), httpx.Response(404), httpx.Response(201, headers={"ETag": '"n"'})])
    seen: list[httpx.Request] = []
    written = provider(lambda r: next(answers), seen).upsert(KEY, EVENT, Written(HREF, '"e1"'))
    assert written.etag == '"n"' and seen[2].headers["If-None-Match"] == "*"


def test_missing_etag_on_write_is_fetched() -> None:
    answers = iter([httpx.Response(201), httpx.Response(200, headers={"ETag": '"g"'})])
    written = provider(lambda r: next(answers), []).upsert(KEY, EVENT, None)
    assert written.etag == '"g"'


def test_endless_conflicts_give_up_as_conflict() -> None:
    def script(request: httpx.Request) -> httpx.Response:
        return httpx.Response(412) if request.method == "PUT" else httpx.Response(200, headers={"ETag": '"x"'})

    with pytest.raises(ProviderConflictError):
        provider(script, []).upsert(KEY, EVENT, Written(HREF, '"e1"'))


def test_missing_collection_is_gone() -> None:
    with pytest.raises(ProviderGoneError, match="calendar_missing"):
        provider(lambda r: httpx.Response(409), []).upsert(KEY, EVENT, None)


def test_wrong_password_is_an_auth_error() -> None:
    with pytest.raises(ProviderAuthError):
        provider(lambda r: httpx.Response(401), []).upsert(KEY, EVENT, None)


@pytest.mark.parametrize("status", [404, 410])
def test_delete_of_missing_is_done(status: int) -> None:
    provider(lambda r: httpx.Response(status), []).delete(KEY, Written(HREF, '"e1"'))


def test_delete_rereads_on_412() -> None:
    answers = iter([httpx.Response(412), httpx.Response(200, headers={"ETag": '"e2"'}), httpx.Response(200)])
    seen: list[httpx.Request] = []
    provider(lambda r: next(answers), seen).delete(KEY, Written(HREF, '"e1"'))
    assert [(r.method, r.headers.get("If-Match")) for r in seen] == [
        ("DELETE", '"e1"'), ("GET", None), ("DELETE", '"e2"')]


def test_delete_after_412_of_a_vanished_resource_is_done() -> None:
    answers = iter([httpx.Response(412), httpx.Response(404)])
    provider(lambda r: next(answers), []).delete(KEY, Written(HREF, '"e1"'))
