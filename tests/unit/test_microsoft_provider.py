"""The Graph provider's request logic against the Microsoft Graph simulator: create with transactionId
and our extended property, PATCH updates, deletes, a lost answer (Graph's de-duplication, and a 409
answer found again through the extended property), delegated and organisation paths, and the error
mapping (401 renew once, 429 with Retry-After, 403, 5xx, other 4xx)."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.core.errors import (
    ProviderAuthError,
    ProviderGoneError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from calsync.domain.event import CalendarEvent, EventKey, Written
from calsync.providers.microsoft import MARKER_ID, MicrosoftGraphProvider
from devstack.sims.microsoft import MicrosoftGraphSimulator
from tests.support.simulators import (
    CLIENT_ID,
    MS_TENANT,
    MS_USER,
    SimTokens,
    microsoft_integration,
    trusting_client,
)

KEY = EventKey("int-ms-1", "tenant-1", "apt-1")
START = dt.datetime(2026, 11, 24, 14, 30, tzinfo=dt.UTC)


def event(summary: str = "#A-1", minutes: int = 0) -> CalendarEvent:
    start = START + dt.timedelta(minutes=minutes)
    return CalendarEvent(summary=summary, description=f"Client: {summary}\nPractice: Main", location="Room 9",
                         start=start, end=start + dt.timedelta(minutes=50), timezone="America/New_York",
                         all_day=False)


@pytest.fixture
def tokens(microsoft_sim: MicrosoftGraphSimulator) -> SimTokens:
    grant = microsoft_sim.tokens.redeem(microsoft_sim.connect(MS_USER, CLIENT_ID, MS_TENANT), CLIENT_ID)
    assert grant is not None
    return SimTokens(microsoft_sim.tokens, grant)


@pytest.fixture
def calendar(microsoft_sim: MicrosoftGraphSimulator, tokens: SimTokens) -> str:
    return microsoft_sim.add_user(MS_USER, MS_TENANT)


@pytest.fixture
def provider(microsoft_sim: MicrosoftGraphSimulator, tokens: SimTokens, calendar: str) -> MicrosoftGraphProvider:
    return MicrosoftGraphProvider(microsoft_integration(microsoft_sim, calendar), tokens,
                                  trusting_client(microsoft_sim), api_base=microsoft_sim.api_base)


def calls(sim: MicrosoftGraphSimulator) -> list[tuple[str, int | None]]:
    return [(r.request.method, r.status) for r in sim.api_requests()]


def test_create_update_delete_take_one_call_each_and_ask_for_immutable_ids(microsoft_sim, provider, calendar):
    created = provider.upsert(KEY, event(), None)
    updated = provider.upsert(KEY, event("#A-1 moved", 30), created)
    assert (updated.external_id, updated.etag != created.etag) == (created.external_id, True)
    [stored] = microsoft_sim.events(MS_USER, calendar)
    assert stored["transactionId"] == KEY.digest
    assert stored["singleValueExtendedProperties"] == [{"id": MARKER_ID, "value": KEY.marker}]
    assert (stored["subject"], stored["start"]) == ("#A-1 moved", {"dateTime": "2026-11-24T10:00:00",
                                                                   "timeZone": "America/New_York"})
    assert stored["attendees"] == []
    provider.delete(KEY, updated)
    assert calls(microsoft_sim) == [("POST", 201), ("PATCH", 200), ("DELETE", 204)]
    requests = [r.request for r in microsoft_sim.api_requests()]
    assert [r.path.split("/v1.0")[1].split("/")[1] for r in requests] == ["me", "me", "me"]
    assert all('IdType="ImmutableId"' in r.headers["prefer"] for r in requests)
    assert microsoft_sim.events(MS_USER) == []


def test_a_lost_answer_is_answered_with_the_first_event_by_transaction_id(microsoft_sim, provider):
    microsoft_sim.inject(method="POST", drop_after_commit=True)
    with pytest.raises(ProviderUnavailableError):
        provider.upsert(KEY, event(), None)
    microsoft_sim.forget_requests()
    written = provider.upsert(KEY, event(), None)  # the retry, same content
    assert calls(microsoft_sim) == [("POST", 201)]
    [stored] = microsoft_sim.events(MS_USER)
    assert stored["id"] == written.external_id


def test_a_lost_answer_then_a_change_patches_the_first_event(microsoft_sim, provider):
    microsoft_sim.inject(method="POST", drop_after_commit=True)
    with pytest.raises(ProviderUnavailableError):
        provider.upsert(KEY, event(), None)
    microsoft_sim.forget_requests()
    provider.upsert(KEY, event("#A-1 rescheduled", 60), None)
    assert calls(microsoft_sim) == [("POST", 201), ("PATCH", 200)]
    [stored] = microsoft_sim.events(MS_USER)
    assert (stored["subject"], stored["start"]["dateTime"]) == ("#A-1 rescheduled", "2026-11-24T10:30:00")


def test_a_duplicate_refused_with_409_is_found_by_our_extended_property(microsoft_sim, provider):
    microsoft_sim.duplicate_transaction = "conflict"
    microsoft_sim.inject(method="POST", drop_after_commit=True)
    with pytest.raises(ProviderUnavailableError):
        provider.upsert(KEY, event(), None)
    microsoft_sim.forget_requests()
    written = provider.upsert(KEY, event("#A-1 v2"), None)
    assert calls(microsoft_sim) == [("POST", 409), ("GET", 200), ("PATCH", 200)]
    search = microsoft_sim.api_requests()[1].request
    assert search.param("$filter") == (f"singleValueExtendedProperties/Any(ep: ep/id eq '{MARKER_ID}' and "
                                       f"ep/value eq '{KEY.marker}')")
    [stored] = microsoft_sim.events(MS_USER)
    assert (stored["id"], stored["subject"]) == (written.external_id, "#A-1 v2")


def test_an_event_deleted_in_outlook_is_created_again(microsoft_sim, provider):
    created = provider.upsert(KEY, event(), None)
    provider.delete(KEY, created)
    microsoft_sim.forget_requests()
    again = provider.upsert(KEY, event("#A-1 back"), created)
    assert calls(microsoft_sim) == [("PATCH", 404), ("POST", 201)]
    assert [e["id"] for e in microsoft_sim.events(MS_USER)] == [again.external_id]


def test_delete_of_a_missing_event_is_done_and_unknown_ones_are_searched(microsoft_sim, provider):
    provider.delete(KEY, Written("AAMk-gone", None))
    provider.delete(KEY, None)  # nothing known: search by our key, nothing found
    provider.upsert(KEY, event(), None)
    provider.delete(KEY, None)
    assert calls(microsoft_sim) == [("DELETE", 404), ("GET", 200), ("POST", 201), ("GET", 200), ("DELETE", 204)]
    assert microsoft_sim.events(MS_USER) == []


def test_401_renews_once_then_is_an_auth_error(microsoft_sim, provider, tokens):
    microsoft_sim.expire_access_tokens()
    provider.upsert(KEY, event(), None)
    assert tokens.renewals == 1
    microsoft_sim.inject(status=401, times=2)
    with pytest.raises(ProviderAuthError) as raised:
        provider.upsert(KEY, event(), None)
    assert (raised.value.reason, tokens.renewals) == ("InvalidAuthenticationToken", 2)


@pytest.mark.parametrize(("status", "error", "reason"), [
    (429, ProviderRateLimitedError, "TooManyRequests"),
    (503, ProviderUnavailableError, "serviceNotAvailable"),
])
def test_throttling_and_outages_carry_graphs_retry_after(microsoft_sim, provider, status, error, reason):
    microsoft_sim.inject(status=status, retry_after=11)
    with pytest.raises(error) as raised:
        provider.upsert(KEY, event(), None)
    assert (raised.value.reason, raised.value.retry_after) == (reason, 11.0)


def test_a_body_graph_refuses_is_rejected_with_its_code(microsoft_sim, provider):
    bad = CalendarEvent(summary="x", description="x", location=None, start=START, end=START + dt.timedelta(hours=1),
                        timezone="America/New_York", all_day=True)  # not at midnight: Graph says no
    with pytest.raises(ProviderRejectedError) as raised:
        provider.upsert(KEY, bad, None)
    assert raised.value.reason == "ErrorPropertyValidationFailure"


def test_a_missing_calendar_is_gone(microsoft_sim, tokens):
    gone = MicrosoftGraphProvider(microsoft_integration(microsoft_sim, "AAMkCal-removed"), tokens,
                                  trusting_client(microsoft_sim), api_base=microsoft_sim.api_base)
    with pytest.raises(ProviderGoneError):
        gone.upsert(KEY, event(), None)


def test_organisation_mode_writes_through_users_and_needs_the_admins_consent(microsoft_sim, calendar):
    app = microsoft_sim.tokens.application_grant(CLIENT_ID, MS_TENANT)
    integration = microsoft_integration(microsoft_sim, calendar,
                                        options={"graph_mode": "organisation", "graph_user_id": MS_USER,
                                                 "tenant_id": MS_TENANT})
    provider = MicrosoftGraphProvider(integration, SimTokens(microsoft_sim.tokens, app), trusting_client(microsoft_sim),
                                      api_base=microsoft_sim.api_base)
    with pytest.raises(ProviderAuthError) as raised:
        provider.upsert(KEY, event(), None)
    assert raised.value.reason == "ErrorAccessDenied"
    microsoft_sim.admin_consent(MS_TENANT, CLIENT_ID)
    written = provider.upsert(KEY, event(), None)
    assert [e["id"] for e in microsoft_sim.events(MS_USER, calendar)] == [written.external_id]
    expected = f"/v1.0/users/{MS_USER.replace('@', '%40')}/calendars/{calendar}/events"
    assert microsoft_sim.api_requests()[-1].request.path == expected
