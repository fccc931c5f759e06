"""The Google provider's request logic against the Google Calendar simulator: idempotent create with
our id, revive after delete, If-Match updates and 412 re-reads, deletes, a lost answer, and the error
mapping (401 refresh once, rate limits with Retry-After, 5xx, other 4xx, a calendar that is gone)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from calsync.core.errors import (
    ProviderAuthError,
    ProviderGoneError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from calsync.domain.event import CalendarEvent, EventKey, Written
from calsync.providers.google import GoogleCalendarProvider
from devstack.sims.google import GoogleCalendarSimulator
from tests.support.simulators import CLIENT_ID, GOOGLE_USER, SimTokens, google_integration

KEY = EventKey("int-google-1", "tenant-1", "apt-1")
START = dt.datetime(2026, 11, 24, 14, 30, tzinfo=dt.UTC)


def event(summary: str = "#A-1", minutes: int = 0) -> CalendarEvent:
    start = START + dt.timedelta(minutes=minutes)
    return CalendarEvent(summary=summary, description=f"Client: {summary}", location="Room 9", start=start,
                         end=start + dt.timedelta(minutes=50), timezone="America/New_York", all_day=False)


@pytest.fixture
def tokens(google_sim: GoogleCalendarSimulator) -> SimTokens:
    grant = google_sim.tokens.redeem(google_sim.connect(GOOGLE_USER, CLIENT_ID), CLIENT_ID)
    assert grant is not None
    return SimTokens(google_sim.tokens, grant)


@pytest.fixture
def provider(google_sim: GoogleCalendarSimulator, tokens: SimTokens) -> GoogleCalendarProvider:
    return GoogleCalendarProvider(google_integration(google_sim), tokens, httpx.Client(timeout=10),
                                  api_base=google_sim.api_base)


def calls(sim: GoogleCalendarSimulator) -> list[tuple[str, int | None]]:
    return [(r.request.method, r.status) for r in sim.api_requests()]


def test_create_then_update_then_delete_take_one_call_each(google_sim, provider):
    created = provider.upsert(KEY, event(), None)
    assert created.external_id == KEY.digest
    updated = provider.upsert(KEY, event("#A-1 moved", 30), created)
    assert updated.etag != created.etag
    provider.delete(KEY, updated)
    assert calls(google_sim) == [("POST", 200), ("PUT", 200), ("DELETE", 204)]
    requests = [r.request for r in google_sim.api_requests()]
    assert all(r.param("sendUpdates") == "none" for r in requests)
    assert requests[1].headers["if-match"] == created.etag and requests[2].headers["if-match"] == updated.etag
    assert google_sim.events(GOOGLE_USER) == []
    [cancelled] = google_sim.events(GOOGLE_USER, include_cancelled=True)
    assert cancelled["summary"] == "#A-1 moved"


def test_create_after_cancel_revives_the_same_event(google_sim, provider):
    provider.delete(KEY, provider.upsert(KEY, event(), None))
    google_sim.forget_requests()
    revived = provider.upsert(KEY, event("#A-1 again"), None)  # the ledger forgot the id after the delete
    assert calls(google_sim) == [("POST", 409), ("PUT", 200)]  # revived in place, no read
    [shown] = google_sim.events(GOOGLE_USER)
    assert (shown["id"], shown["status"], shown["summary"]) == (revived.external_id, "confirmed", "#A-1 again")
    assert shown["etag"] == revived.etag


def test_a_lost_answer_to_a_create_leaves_exactly_one_event(google_sim, provider):
    google_sim.inject(method="POST", drop_after_commit=True)
    with pytest.raises(ProviderUnavailableError):
        provider.upsert(KEY, event(), None)
    written = provider.upsert(KEY, event("#A-1 changed meanwhile"), None)  # the retry
    [shown] = google_sim.events(GOOGLE_USER, include_cancelled=True)
    assert (shown["id"], shown["summary"], shown["etag"]) == (written.external_id, "#A-1 changed meanwhile",
                                                            written.etag)


def test_a_412_rereads_the_etag_and_overwrites(google_sim, provider):
    created = provider.upsert(KEY, event(), None)
    provider.upsert(KEY, event("edited elsewhere"), created)  # someone moved the etag on
    google_sim.forget_requests()
    written = provider.upsert(KEY, event("#A-1 final"), created)  # stale etag from the ledger
    assert calls(google_sim) == [("PUT", 412), ("GET", 200), ("PUT", 200)]
    assert google_sim.events(GOOGLE_USER)[0]["summary"] == "#A-1 final"
    assert written.etag == google_sim.events(GOOGLE_USER)[0]["etag"]


def test_update_of_an_event_missing_from_the_calendar_creates_it(google_sim, provider):
    written = provider.upsert(KEY, event(), Written(KEY.digest, '"1"'))
    assert calls(google_sim) == [("PUT", 404), ("GET", 404), ("POST", 200)]
    assert written.external_id == KEY.digest


def test_delete_counts_missing_and_already_deleted_events_as_done(google_sim, provider):
    provider.delete(KEY, Written(KEY.digest, None))
    created = provider.upsert(KEY, event(), None)
    provider.delete(KEY, created)
    provider.delete(KEY, created)
    assert calls(google_sim) == [("DELETE", 404), ("POST", 200), ("DELETE", 204), ("DELETE", 410)]


def test_delete_with_a_stale_etag_rereads_and_deletes(google_sim, provider):
    created = provider.upsert(KEY, event(), None)
    provider.upsert(KEY, event("edited elsewhere"), created)
    google_sim.forget_requests()
    provider.delete(KEY, created)
    assert calls(google_sim) == [("DELETE", 412), ("GET", 200), ("DELETE", 204)]
    assert google_sim.events(GOOGLE_USER) == []


def test_401_renews_the_token_once_then_gives_up(google_sim, provider, tokens):
    google_sim.expire_access_tokens()
    provider.upsert(KEY, event(), None)
    assert tokens.renewals == 1
    google_sim.inject(status=401, times=2)
    with pytest.raises(ProviderAuthError) as raised:
        provider.upsert(KEY, event("x"), None)
    assert (raised.value.reason, tokens.renewals) == ("authError", 2)


@pytest.mark.parametrize(("status", "error", "reason", "retry_after"), [
    (429, ProviderRateLimitedError, "rateLimitExceeded", 7.0),
    (403, ProviderRateLimitedError, "rateLimitExceeded", 7.0),
    (503, ProviderUnavailableError, "backendError", 7.0),
])
def test_throttling_and_outages_are_retryable_with_the_providers_wait(google_sim, provider, status, error, reason,
                                                                      retry_after):
    google_sim.inject(status=status, retry_after=7)
    with pytest.raises(error) as raised:
        provider.upsert(KEY, event(), None)
    assert (raised.value.reason, raised.value.retry_after) == (reason, retry_after)
    assert google_sim.events(GOOGLE_USER) == []


def test_other_4xx_is_rejected_with_googles_reason_and_no_content(google_sim, provider):
    google_sim.inject(status=400, body={"error": {"errors": [{"reason": "invalid", "message": "Zebulon"}],
                                                  "code": 400, "message": "Zebulon"}})
    with pytest.raises(ProviderRejectedError) as raised:
        provider.upsert(KEY, event(), None)
    assert raised.value.reason == "invalid" and "Zebulon" not in str(raised.value)


def test_a_calendar_that_is_gone_is_reported_as_gone(google_sim, tokens):
    gone = GoogleCalendarProvider(google_integration(google_sim, calendar_id="removed@group.calendar.example"),
                                  tokens, httpx.Client(timeout=10), api_base=google_sim.api_base)
    with pytest.raises(ProviderGoneError):
        gone.upsert(KEY, event(), None)
    with pytest.raises(ProviderGoneError):
        gone.upsert(KEY, event(), Written(KEY.digest, '"3"'))
