"""Two-way sync with CalDAV (Radicale): no push, so the sweeper makes each integration's pull due at its own
interval; ``sync-collection`` (RFC 6578) reads what changed, an invalid token leads to a bounded full read,
recurring series are expanded with their overrides and exclusions, and calsync's own events come back."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import httpx
import pytest

from calsync.domain.busy import calendar_tag
from calsync.domain.event import EventKey
from calsync.services import sweeper
from calsync.services.twoway import pull
from calsync.store import pulls
from devstack.clinicians import CalDavClinician
from devstack.deployment import Deployment
from tests.support.pipeline import calendar
from tests.support.reliability import Clock, Ehr
from tests.support.twoway import Outbound, blocks, send_changes, settle, spans, start, two_way_caldav

ZONE = ZoneInfo("America/Chicago")


def at(hour: int, minute: int = 0, offset: int = 1) -> dt.datetime:
    day = (dt.datetime.now(ZONE) + dt.timedelta(days=offset)).date()
    return dt.datetime.combine(day, dt.time(hour, minute), ZONE)


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def put(clinician: CalDavClinician, name: str, body: str) -> None:
    ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//clinician//EN\r\n" + body + "END:VCALENDAR\r\n"
    response = httpx.put(f"{clinician.calendar_url}{name}.ics", content=ics.replace("\n", "\r\n").replace(
        "\r\r", "\r"), auth=(clinician.username, clinician.password), headers={"Content-Type": "text/calendar"})
    assert response.status_code in (201, 204), response.text


def vevent(uid: str, start: dt.datetime, end: dt.datetime, summary: str = "Busy", extra: str = "") -> str:
    return (f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20260101T000000Z\nDTSTART;TZID={ZONE.key}:{stamp(start)}\n"
            f"DTEND;TZID={ZONE.key}:{stamp(end)}\nSUMMARY:{summary}\n{extra}END:VEVENT\n")


def poll(deployment: Deployment, minutes: float = 5.5) -> None:
    """The sweeper's tick once the polling interval has passed, then the pull worker."""
    sweeper.run(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes))
    settle(deployment)


@pytest.fixture
def watched(deployment: Deployment, tenant_id: str) -> CalDavClinician:
    clinician = two_way_caldav(deployment.stack, tenant_id)
    start(clinician.integration.integration_id)
    settle(deployment)
    return clinician


def test_the_sweeper_polls_each_calendar_at_its_interval(deployment, tenant_id, watched):
    state = pulls.state(watched.integration.integration_id)
    assert state is not None and state.next_pull_at is not None
    assert state.next_pull_at - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=5)
    put(watched, "dentist", vevent("dentist-1", at(12), at(13), "Dentist"))
    sweeper.run(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))  # not due yet
    settle(deployment)
    assert blocks(watched.integration.integration_id) == []
    poll(deployment)
    assert spans(watched.integration.integration_id) == [(at(12), at(13))]
    clinician = two_way_caldav(deployment.stack, tenant_id, "dr-often", poll_minutes=1)
    start(clinician.integration.integration_id)
    settle(deployment)
    often = pulls.state(clinician.integration.integration_id)
    assert often is not None and often.next_pull_at is not None
    assert often.next_pull_at - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=1)


def test_changes_and_removals_are_read_incrementally(deployment, watched):
    put(watched, "a", vevent("a-1", at(9), at(10)))
    put(watched, "b", vevent("b-1", at(11), at(12)))
    poll(deployment)
    put(watched, "a", vevent("a-1", at(15), at(16)))
    httpx.delete(f"{watched.calendar_url}b.ics", auth=(watched.username, watched.password))
    report = pull.pull(watched.integration.integration_id)
    assert (report.full_reads, report.events_read) == (0, 1)
    assert spans(watched.integration.integration_id) == [(at(15), at(16))]


def test_an_invalid_sync_token_is_a_bounded_full_read_without_duplicates(deployment, watched):
    put(watched, "a", vevent("a-1", at(9), at(10)))
    poll(deployment)
    before = blocks(watched.integration.integration_id)
    calendar_id = watched.integration.calendar_id
    known = pulls.cursors(watched.integration.integration_id)[calendar_id]
    pulls.save_cursor(watched.integration.integration_id, calendar_tag(calendar_id),
                      pulls.Cursor(calendar_id, "http://radicale.org/ns/sync/forgotten", known.window_end,
                                   known.blocks))
    put(watched, "b", vevent("b-1", at(13), at(14)))
    report = pull.pull(watched.integration.integration_id)
    assert (report.sync_state_lost, report.full_reads) == (1, 1)
    after = blocks(watched.integration.integration_id)
    assert after[0].block_id == before[0].block_id
    assert [(b.start, b.end) for b in after] == [(at(9), at(10)), (at(13), at(14))]


def test_a_series_with_an_override_and_an_exclusion_is_expanded(deployment, watched):
    first = at(8)
    series = vevent("physio", first, at(9), "Physio", "RRULE:FREQ=DAILY;COUNT=4\n"
                    f"EXDATE;TZID={ZONE.key}:{stamp(at(8, offset=3))}\n")
    moved = vevent("physio", at(17, offset=2), at(18, offset=2), "Physio (late)",
                   f"RECURRENCE-ID;TZID={ZONE.key}:{stamp(at(8, offset=2))}\n")
    put(watched, "physio", series + moved)
    poll(deployment)
    assert spans(watched.integration.integration_id) == [
        (at(8), at(9)), (at(17, offset=2), at(18, offset=2)), (at(8, offset=4), at(9, offset=4))]


def test_free_and_all_day_events_in_ical(deployment, watched):
    put(watched, "free", vevent("free-1", at(9), at(10), extra="TRANSP:TRANSPARENT\n"))
    put(watched, "cancelled", vevent("cancelled-1", at(10), at(11), extra="STATUS:CANCELLED\n"))
    day = at(0, offset=3).date()
    put(watched, "away", "BEGIN:VEVENT\nUID:away-1\nDTSTAMP:20260101T000000Z\n"
                         f"DTSTART;VALUE=DATE:{day:%Y%m%d}\nDTEND;VALUE=DATE:{day + dt.timedelta(days=1):%Y%m%d}\n"
                         "SUMMARY:Away\nEND:VEVENT\n")
    poll(deployment)
    (block,) = blocks(watched.integration.integration_id)
    assert (block.all_day, block.start_date, block.end_date) == (True, day, day + dt.timedelta(days=1))


def test_a_calsync_event_deleted_or_moved_by_the_clinician_comes_back(deployment, tenant_id, watched):
    out = Outbound.listen(deployment.stack, tenant_id)
    ehr = Ehr(tenant_id, Clock())
    booked = ehr.change("apt-4", 10, practitioner="dr-adeyemi", day_offset=2)
    send_changes(deployment, booked)
    href = f"{watched.calendar_url}{EventKey(watched.integration.integration_id, tenant_id, 'apt-4').digest}.ics"
    assert httpx.delete(href, auth=(watched.username, watched.password)).status_code in (200, 204)
    poll(deployment)
    (shown,) = calendar(watched)
    assert shown.start == booked.start
    assert [e["edit"] for e in out.of("External Edit Reverted")] == ["deleted"]
    poll(deployment)  # nothing more: the restored event is ours, unchanged since
    assert out.of("External Edit Reverted") == [] and blocks(watched.integration.integration_id) == []
