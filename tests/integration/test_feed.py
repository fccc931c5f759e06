"""The private ICS feed end to end on the local stack: appointment changes go through the engine (or the
bus) into the feed's table, and the real handler serves them; five parsers read the result.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from calsync.core.settings import get_settings
from calsync.domain.event import EventKey
from calsync.domain.feed import IssuedToken
from calsync.domain.model import ClientDisplay, Integration, PrivacySettings, SyncWindow
from calsync.domain.privacy import render
from calsync.feed.target import IcsFeedProvider
from calsync.services import feeds as management
from devstack.deployment import Deployment
from devstack.local_api import LocalApi
from devstack.stack import LocalStack, StackResources
from tests.support import appointments as fixtures
from tests.support.feeds import (
    NEW_YORK,
    all_day,
    apply,
    at,
    booking,
    dst_days,
    fetch,
    today,
)
from tests.support.ical_parsers import Span, assert_all_read, assert_wire_format, properties, unfolded
from tests.support.pipeline import captured_logs, deliver

CHICAGO = ZoneInfo("America/Chicago")
PHI = {  # every patient detail in tests.support.appointments, by the setting that controls it
    "client": [fixtures.FIRST, fixtures.LAST, fixtures.INTERNAL],
    "visit_type": [fixtures.VISIT],
    "location": [fixtures.LOCATION, fixtures.ADDRESS],
    "notes": [fixtures.NOTES],
    "practice_name": [fixtures.PRACTICE],
    "deep_link": [fixtures.DEEP_LINK],
    "telehealth": [fixtures.TELEHEALTH],
}
SHOWN = {**PHI, "client": [fixtures.FIRST, fixtures.LAST]}  # what EVERYTHING shows (full name, not the id)
EVERYTHING = PrivacySettings(client_display=ClientDisplay.FULL_NAME, show_visit_type=True, show_location=True,
                             show_notes=True, show_practice_name=True, show_deep_link=True,
                             show_telehealth_link=True)
NOTHING = PrivacySettings(client_display=ClientDisplay.NONE, show_visit_type=False, show_location=False,
                          show_notes=False, show_practice_name=False, show_deep_link=False,
                          show_telehealth_link=False)
SWITCH_OFF: dict[str, dict[str, Any]] = {
    "client": {"client_display": ClientDisplay.NONE},
    "visit_type": {"show_visit_type": False},
    "location": {"show_location": False},
    "notes": {"show_notes": False},
    "practice_name": {"show_practice_name": False},
    "deep_link": {"show_deep_link": False},
    "telehealth": {"show_telehealth_link": False},
}


@pytest.fixture(scope="module")
def server(deployment: Deployment) -> LocalApi:
    return deployment.api


def new_feed(tenant_id: str, practitioner_id: str = "dr-1", **options: object) -> tuple[Integration, IssuedToken]:
    return management.create_feed(tenant_id, practitioner_id, base_url="http://127.0.0.1:1", **options)  # type: ignore[arg-type]


def uid(feed: Integration, tenant_id: str, appointment_id: str) -> str:
    return EventKey(feed.integration_id, tenant_id, appointment_id).uid


def span(start: dt.datetime, minutes: int = 50) -> Span:
    return start.astimezone(dt.UTC), start.astimezone(dt.UTC) + dt.timedelta(minutes=minutes)


def sequence_of(event: Any) -> int:
    return int(event.decoded("SEQUENCE"))


def vevents(body: bytes) -> dict[str, Any]:
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}


# -- the calendar -----------------------------------------------------------------------------------------


def test_the_feed_holds_exactly_the_appointments_in_its_window_and_every_parser_agrees(
        server: LocalApi, tenant_id: str) -> None:
    # Given a clinician's feed and their appointments, in and out of the window, in two zones
    feed, issued = new_feed(tenant_id)
    day = today()
    spring, fall = dst_days()
    timed = {
        "soon": at(day + dt.timedelta(days=2), 9),
        "chicago": at(day + dt.timedelta(days=5), 14, zone=CHICAGO),
        "recent-past": at(day - dt.timedelta(days=10), 9),
        "before-spring": at(spring - dt.timedelta(days=1), 9),
        "spring-day": at(spring, 9),
        "first-hour-after-spring": at(spring, 3, 30),
        "repeated-hour-first": at(fall, 1, 30, fold=0),
        "repeated-hour-second": at(fall, 1, 30, fold=1),
    }
    apply(*(booking(tenant_id, name, start) for name, start in timed.items()))
    apply(all_day(tenant_id, "all-day", day + dt.timedelta(days=3)),
          all_day(tenant_id, "three-days", spring - dt.timedelta(days=1), days=3),
          booking(tenant_id, "too-old", at(day - dt.timedelta(days=45), 9)),
          booking(tenant_id, "too-far", at(day + dt.timedelta(days=400), 9)),
          booking(tenant_id, "colleague", at(day + dt.timedelta(days=2), 10), practitioner_id="dr-2"))

    # When a calendar app downloads it
    got = fetch(server, issued.token)

    # Then it is a strict RFC 5545 document with every expected event, read alike by five parsers
    assert got.status == 200
    assert_wire_format(got.body)
    expected: dict[str, Span] = {uid(feed, tenant_id, name): span(start) for name, start in timed.items()}
    expected[uid(feed, tenant_id, "all-day")] = (day + dt.timedelta(days=3), day + dt.timedelta(days=4))
    expected[uid(feed, tenant_id, "three-days")] = (spring - dt.timedelta(days=1), spring + dt.timedelta(days=2))
    assert_all_read(got.body, expected)
    # on the wall clock the practice sees, whatever the UTC offset that day
    local = {u: e.decoded("DTSTART").astimezone(NEW_YORK) for u, e in vevents(got.body).items()
             if isinstance(e.decoded("DTSTART"), dt.datetime)}
    assert local[uid(feed, tenant_id, "before-spring")].hour == local[uid(feed, tenant_id, "spring-day")].hour == 9
    assert (local[uid(feed, tenant_id, "before-spring")].utcoffset()
            != local[uid(feed, tenant_id, "spring-day")].utcoffset())
    # with the calendar properties and per-event bookkeeping that clients rely on
    for name, value in [("VERSION", "2.0"), ("METHOD", "PUBLISH"), ("REFRESH-INTERVAL", "PT30M"),
                        ("X-PUBLISHED-TTL", "PT30M"), ("X-WR-CALNAME", "Appointments")]:
        assert properties(got.body, name) == [value]
    for event in vevents(got.body).values():
        assert {"UID", "DTSTAMP", "SEQUENCE", "LAST-MODIFIED", "X-CALSYNC-KEY"} <= set(event.keys())
        assert "ATTENDEE" not in event and "ORGANIZER" not in event
    # and one VTIMEZONE for each zone the events use
    zones = sorted(str(tz["TZID"]) for tz in icalendar.Calendar.from_ical(got.body).walk("VTIMEZONE"))
    assert zones == ["America/Chicago", "America/New_York"]
    assert got.headers["content-type"] == "text/calendar; charset=utf-8"
    assert got.headers["cache-control"].startswith("private")
    assert got.headers["referrer-policy"] == "no-referrer"


def test_the_window_is_applied_when_serving_too(server: LocalApi, tenant_id: str) -> None:
    # Given events stored while they were in the window (written straight through the provider)
    feed, issued = new_feed(tenant_id, window=SyncWindow(past_days=7, future_days=30))
    provider = IcsFeedProvider(feed)
    day = today()
    for name, start in {"aged-out": at(day - dt.timedelta(days=9), 9), "in": at(day - dt.timedelta(days=2), 9),
                        "not-yet": at(day + dt.timedelta(days=40), 9)}.items():
        event = render(booking(tenant_id, name, start), feed.privacy)
        assert event is not None
        provider.upsert(EventKey(feed.integration_id, tenant_id, name), event, None)
    # Then only the one inside today's window is served
    assert set(vevents(fetch(server, issued.token).body)) == {uid(feed, tenant_id, "in")}


def test_a_front_desk_feed_follows_a_practice_and_its_chosen_locations(server: LocalApi, tenant_id: str) -> None:
    feed, issued = management.create_feed(tenant_id, practice_id="p-1", locations=frozenset({"Room A"}),
                                          name="Front desk")
    start = at(today() + dt.timedelta(days=1), 9)
    apply(booking(tenant_id, "a-dr1", start, practitioner_id="dr-1", location={"name": "Room A"}),
          booking(tenant_id, "a-dr2", start, practitioner_id="dr-2", location={"name": "Room A"}),
          booking(tenant_id, "b-dr1", start, practitioner_id="dr-1", location={"name": "Room B"}),
          booking(tenant_id, "other-practice", start, practice={"id": "p-2", "name": "Other"},
                  location={"name": "Room A"}))
    got = fetch(server, issued.token)
    assert set(vevents(got.body)) == {uid(feed, tenant_id, "a-dr1"), uid(feed, tenant_id, "a-dr2")}
    assert properties(got.body, "X-WR-CALNAME") == ["Front desk"]


def test_a_new_feed_starts_with_the_appointments_already_booked(server: LocalApi, tenant_id: str) -> None:
    apply(booking(tenant_id, "booked-earlier", at(today() + dt.timedelta(days=3), 11)))
    feed, issued = new_feed(tenant_id)
    assert set(vevents(fetch(server, issued.token).body)) == {uid(feed, tenant_id, "booked-earlier")}


def test_an_appointment_changed_on_the_bus_reaches_the_feed(server: LocalApi, stack: LocalStack,
                                                            stack_resources: StackResources,
                                                            tenant_id: str) -> None:
    feed, issued = new_feed(tenant_id)
    stack.allow_ehr(tenant_id, "ehr.test")  # the vendor's onboarding: this EHR may speak for the tenant
    start = at(today() + dt.timedelta(days=4), 15)
    entry = {"Source": "ehr.test", "DetailType": "Appointment Changed",
             "Detail": booking(tenant_id, "via-bus", start).model_dump_json()}
    deliver(stack, stack_resources, [entry])
    assert_all_read(fetch(server, issued.token).body, {uid(feed, tenant_id, "via-bus"): span(start)})


# -- changes ----------------------------------------------------------------------------------------------


def test_a_reschedule_keeps_the_uid_and_grows_sequence_and_last_modified(server: LocalApi,
                                                                         tenant_id: str) -> None:
    feed, issued = new_feed(tenant_id)
    first, moved = at(today() + dt.timedelta(days=2), 9), at(today() + dt.timedelta(days=2), 11)
    apply(booking(tenant_id, "a-1", first))
    before = fetch(server, issued.token)
    apply(booking(tenant_id, "a-1", moved))
    after = fetch(server, issued.token)

    key = uid(feed, tenant_id, "a-1")
    old, new = vevents(before.body)[key], vevents(after.body)[key]
    assert set(vevents(after.body)) == {key}
    assert new.decoded("DTSTART") == moved
    assert sequence_of(new) > sequence_of(old)
    assert new.decoded("LAST-MODIFIED") > old.decoded("LAST-MODIFIED")
    assert new.decoded("DTSTAMP") > old.decoded("DTSTAMP")
    assert after.headers["etag"] != before.headers["etag"]


def test_a_cancelled_appointment_leaves_the_feed_and_a_rebooking_brings_it_back_with_a_higher_sequence(
        server: LocalApi, tenant_id: str) -> None:
    feed, issued = new_feed(tenant_id)
    start = at(today() + dt.timedelta(days=6), 10)
    key = uid(feed, tenant_id, "a-1")
    apply(booking(tenant_id, "a-1", start))
    booked = int(vevents(fetch(server, issued.token).body)[key]["SEQUENCE"])

    apply(booking(tenant_id, "a-1", start, status="cancelled"))
    cancelled = fetch(server, issued.token)
    assert vevents(cancelled.body) == {}
    assert fixtures.INTERNAL not in unfolded(cancelled.body)

    apply(booking(tenant_id, "a-1", start, status="scheduled"))
    assert int(vevents(fetch(server, issued.token).body)[key]["SEQUENCE"]) > booked


def test_sequence_grows_even_for_two_changes_in_one_second_and_without_the_ledger_hint(tenant_id: str) -> None:
    feed, _ = new_feed(tenant_id)
    provider = IcsFeedProvider(feed)
    key = EventKey(feed.integration_id, tenant_id, "a-1")
    start = at(today() + dt.timedelta(days=1), 9)
    sequences = []
    known = None
    for minutes in (30, 40, 50):
        event = render(booking(tenant_id, "a-1", start, minutes=minutes), feed.privacy)
        assert event is not None
        written = provider.upsert(key, event, known)
        sequences.append(int(written.etag or "0"))
        known = written
    event = render(booking(tenant_id, "a-1", start, minutes=60), feed.privacy)
    assert event is not None
    sequences.append(int(provider.upsert(key, event, None).etag or "0"))  # the ledger lost track
    assert sequences == sorted(sequences) and len(set(sequences)) == 4


# -- privacy ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", sorted(SWITCH_OFF))
def test_a_disabled_privacy_field_appears_nowhere_in_the_feed_bytes(server: LocalApi, tenant_id: str,
                                                                    field: str) -> None:
    # Given a feed that shows everything but one field
    privacy = EVERYTHING.model_copy(update=SWITCH_OFF[field])
    _, issued = new_feed(tenant_id, privacy=privacy)
    apply(booking(tenant_id, "a-1", at(today() + dt.timedelta(days=2), 9)))
    plain = fetch(server, issued.token)
    compressed = fetch(server, issued.token, accept_encoding="gzip")
    assert plain.body == compressed.body
    # Then that field's values are nowhere, however the bytes are read
    texts = [plain.body.decode(), unfolded(plain.body), plain.body.replace(b"\r\n ", b"").decode()]
    for value in PHI[field]:
        assert all(value not in text for text in texts), f"{field} leaked"
    # while every other field is there, so the search would have found it
    for other, values in SHOWN.items():
        if other != field:
            assert all(value in unfolded(plain.body) for value in values), f"{other} missing"


def test_a_feed_with_every_field_off_shows_only_time_and_a_neutral_title(server: LocalApi,
                                                                         tenant_id: str) -> None:
    _, issued = new_feed(tenant_id, privacy=NOTHING)
    apply(booking(tenant_id, "a-1", at(today() + dt.timedelta(days=2), 9)))
    body = fetch(server, issued.token).body
    text = unfolded(body)
    for values in PHI.values():
        assert all(value not in text for value in values)
    assert properties(body, "SUMMARY") == ["Appointment"]


# -- HTTP -------------------------------------------------------------------------------------------------


def test_an_unchanged_feed_is_answered_304_without_rendering(server: LocalApi, tenant_id: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _, issued = new_feed(tenant_id)
    apply(booking(tenant_id, "a-1", at(today() + dt.timedelta(days=2), 9)))
    first = fetch(server, issued.token)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]

    def no_rendering(*args: object, **kwargs: object) -> None:
        raise AssertionError("the 304 path rendered the feed")

    with monkeypatch.context() as patched:
        patched.setattr("calsync.store.feeds.window_page", no_rendering)
        patched.setattr("calsync.feed.document.assemble", no_rendering)
        patched.setattr("calsync.feed.document.header", no_rendering)
        by_etag = fetch(server, issued.token, if_none_match=etag)
        by_date = fetch(server, issued.token, if_modified_since=last_modified)
        head = fetch(server, issued.token, method="HEAD")
    for answer in (by_etag, by_date):
        assert (answer.status, answer.wire) == (304, b"")
        assert answer.headers["etag"] == etag
        assert answer.headers["cache-control"].startswith("private")
    assert (head.status, head.wire, head.headers["etag"]) == (200, b"", etag)

    # a change makes the old validator stale
    apply(booking(tenant_id, "a-2", at(today() + dt.timedelta(days=3), 9)))
    changed = fetch(server, issued.token, if_none_match=etag)
    assert changed.status == 200 and changed.headers["etag"] != etag
    assert fetch(server, issued.token, if_none_match=changed.headers["etag"]).status == 304


def test_gzip_is_used_when_asked_and_decodes_to_the_same_document(server: LocalApi, tenant_id: str) -> None:
    _, issued = new_feed(tenant_id)
    apply(*(booking(tenant_id, f"a-{n}", at(today() + dt.timedelta(days=n), 9)) for n in range(1, 30)))
    plain = fetch(server, issued.token)
    zipped = fetch(server, issued.token, accept_encoding="gzip, deflate")
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.body == plain.body and len(zipped.wire) < len(plain.wire) / 3
    assert zipped.headers["etag"] == plain.headers["etag"]


# -- tokens -----------------------------------------------------------------------------------------------


def test_unknown_tokens_get_404_and_revoked_ones_410_revealing_no_tenant(server: LocalApi,
                                                                         tenant_id: str) -> None:
    feed, phone = new_feed(tenant_id)
    laptop = management.issue_token(feed)
    assert fetch(server, phone.token).status == fetch(server, laptop.token).status == 200

    unknown = [fetch(server, "A" * 43), fetch(server, "Z" * 43), fetch(server, "short")]
    assert {(u.status, u.wire, tuple(sorted(u.headers.items()))) for u in unknown} == {
        (404, unknown[0].wire, tuple(sorted(unknown[0].headers.items())))}

    assert management.revoke(tenant_id, feed.integration_id, phone.token_id)
    revoked = fetch(server, phone.token)
    assert revoked.status == 410
    assert fetch(server, laptop.token).status == 200, "revoking one URL leaves the others working"
    for answer in [*unknown, revoked]:
        for secret in (tenant_id, feed.integration_id, phone.token_id, phone.token):
            assert secret not in answer.wire.decode() and secret not in str(answer.headers)
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"] == "no-referrer"


def test_rotating_a_leaked_url_issues_a_new_one_and_revokes_the_old(server: LocalApi, tenant_id: str) -> None:
    feed, leaked = new_feed(tenant_id)
    fresh = management.rotate(tenant_id, feed.integration_id, leaked.token_id, base_url="https://feeds.example")
    assert fresh.token != leaked.token and fresh.url is not None and fresh.url.endswith(f"/feeds/{fresh.token}.ics")
    assert fetch(server, leaked.token).status == 410
    assert fetch(server, fresh.token).status == 200
    listed = {t.token_id: t.revoked for t in management.list_tokens(tenant_id, feed.integration_id)}
    assert listed == {leaked.token_id: True, fresh.token_id: False}


def test_deleting_a_feed_revokes_every_url(server: LocalApi, tenant_id: str) -> None:
    feed, first = new_feed(tenant_id)
    second = management.issue_token(feed)
    apply(booking(tenant_id, "a-1", at(today() + dt.timedelta(days=2), 9)))
    assert management.delete_feed(tenant_id, feed.integration_id) == 2
    assert fetch(server, first.token).status == fetch(server, second.token).status == 410


def test_management_is_scoped_to_the_tenant(tenant_id: str) -> None:
    feed, issued = new_feed(tenant_id)
    with pytest.raises(management.FeedNotFoundError):
        management.revoke("another-tenant", feed.integration_id, issued.token_id)


def test_the_token_is_stored_only_as_a_hash_and_never_logged(server: LocalApi, stack: LocalStack,
                                                             tenant_id: str) -> None:
    with captured_logs() as logs:
        feed, issued = new_feed(tenant_id)
        apply(booking(tenant_id, "a-1", at(today() + dt.timedelta(days=2), 9)))
        fetch(server, issued.token)
        fetch(server, issued.token, if_none_match='W/"x"')
        management.revoke(tenant_id, feed.integration_id, issued.token_id)
        fetch(server, issued.token)
    assert issued.token not in logs.getvalue()
    assert issued.token_id in logs.getvalue(), "requests are logged, by token id"
    dynamodb = stack.client("dynamodb")
    for table in (get_settings().feed_tokens_table, get_settings().feeds_table):
        assert issued.token not in str(dynamodb.scan(TableName=table)["Items"])


def test_one_url_fetched_in_a_loop_is_slowed_down_and_no_other_feed_notices(server: LocalApi, tenant_id: str) -> None:
    from calsync.feed.serve import REQUESTS_PER_WINDOW, WINDOW_SECONDS, FeedRequest, serve

    _, hammered = new_feed(tenant_id)
    _, other = new_feed(tenant_id, "dr-2")
    answers = [fetch(server, hammered.token).status for _ in range(REQUESTS_PER_WINDOW)]
    assert set(answers) == {200}
    throttled = fetch(server, hammered.token)
    assert throttled.status == 429 and 0 < int(throttled.headers["retry-after"]) <= WINDOW_SECONDS
    assert fetch(server, other.token).status == 200  # another URL keeps its own allowance
    conditional = fetch(server, hammered.token, if_none_match='W/"anything"')
    assert conditional.status == 429  # a 304-style poll counts too: the allowance is per request
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=WINDOW_SECONDS)
    assert serve(FeedRequest("GET", f"{hammered.token}.ics"), now=later).status == 200  # the next window
    unknown = fetch(server, "A" * 43)
    assert unknown.status == 404 and "retry-after" not in unknown.headers
