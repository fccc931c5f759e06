"""Platforms without webhooks (SimplePractice, Doodle): their calendar export is polled by the sweeper,
conditionally, and what changed reaches the clinician's Radicale calendar through the bus."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.domain.model import ClientDisplay, PrivacySettings
from calsync.services import sweeper
from calsync.services.sweeper import Budget
from calsync.services.sweeper.context import Run
from calsync.services.sweeper.platform_exports import poll_exports
from calsync.store import platform_intake
from calsync.store.platform_intake import Kind
from devstack.clinicians import CalDavClinician, connect_caldav
from tests.support.pipeline import calendar, drain
from tests.support.platform_hooks import Hook, emitted_metrics
from tests.support.platform_samples import load
from tests.support.reliability import reset_sweeper

PRIVACY = PrivacySettings(client_display=ClientDisplay.INITIALS, show_visit_type=True)


@pytest.fixture
def clinician(stack, tenant_id) -> CalDavClinician:
    return connect_caldav(stack, tenant_id=tenant_id, practitioner_id="dr-okafor", privacy=PRIVACY)


def export_source(stack, platform_sim, tenant_id, platform, name: str = "okafor") -> tuple[Hook, str]:
    source = Hook(stack, platform_sim, tenant_id, platform)
    text = load(platform, "export").body
    platform_sim.put_export(f"{tenant_id}-{name}", text)
    source.set_secret(ics_url=platform_sim.export_url(f"{tenant_id}-{name}"))
    return source, text


def due_now(tenant_id: str, platform: str) -> None:
    """The source's next poll is due now (rather than after its interval)."""
    platform_intake.reschedule(tenant_id, platform, Kind.POLL, "", due=dt.datetime.now(dt.UTC))


def poll(at: dt.datetime) -> int:
    """The sweeper's export job, run at ``at``; how many exports it polled."""
    run = Run(at, Budget())
    poll_exports(run)
    return run.report.exports_polled


@pytest.mark.parametrize("platform", ["simplepractice", "doodle"])
def test_an_export_is_polled_into_the_calendar(stack, stack_resources, tenant_id, platform_sim, clinician, platform):
    _, text = export_source(stack, platform_sim, tenant_id, platform)
    assert poll(dt.datetime.now(dt.UTC)) >= 1
    drain(stack, stack_resources)
    events = calendar(clinician)
    assert len(events) == text.count("BEGIN:VEVENT")
    assert all(e.summary.startswith("[Main Street Family Practice]") for e in events)
    assert all("Client appointment" not in e.summary for e in events)  # the export's titles stay notes


def test_an_unchanged_export_costs_one_conditional_request(stack, stack_resources, tenant_id, platform_sim,
                                                           clinician):
    export_source(stack, platform_sim, tenant_id, "simplepractice")
    now = dt.datetime.now(dt.UTC)
    poll(now)
    first = drain(stack, stack_resources).received
    assert first == 3
    platform_sim.forget_requests()
    assert poll(now + dt.timedelta(minutes=16)) >= 1
    (request,) = [r for r in platform_sim.requests if tenant_id in r.request.path]
    assert request.status == 304
    assert request.request.headers.get("if-none-match")
    assert request.request.headers.get("if-modified-since")
    assert drain(stack, stack_resources).received == 0


def test_an_export_is_not_polled_before_its_interval(stack, tenant_id, platform_sim):
    export_source(stack, platform_sim, tenant_id, "doodle")
    now = dt.datetime.now(dt.UTC)
    poll(now)
    platform_sim.forget_requests()
    poll(now + dt.timedelta(minutes=5))
    assert [r for r in platform_sim.requests if tenant_id in r.request.path] == []


def test_moved_and_vanished_events_follow_the_export(stack, stack_resources, tenant_id, platform_sim, clinician):
    _, text = export_source(stack, platform_sim, tenant_id, "simplepractice")
    now = dt.datetime.now(dt.UTC)
    poll(now)
    drain(stack, stack_resources)
    before = {e.uid: e for e in calendar(clinician)}
    assert len(before) == 3
    tomorrow = (now + dt.timedelta(days=1)).strftime("%Y%m%d")
    moved = text.replace(f"DTSTART:{tomorrow}T160000Z", f"DTSTART:{tomorrow}T180000Z").replace(
        f"DTEND:{tomorrow}T165000Z", f"DTEND:{tomorrow}T185000Z")
    first_event = moved.index("BEGIN:VEVENT")
    second_event = moved.index("BEGIN:VEVENT", first_event + 1)
    without_first = moved[:first_event] + moved[second_event:]
    platform_sim.put_export(f"{tenant_id}-okafor", without_first)
    due_now(tenant_id, "simplepractice")  # not the clock moved on: what it publishes is stamped with the poll's time
    poll(dt.datetime.now(dt.UTC))
    drain(stack, stack_resources)
    after = {e.uid: e for e in calendar(clinician)}
    assert len(after) == 2
    assert set(after) < set(before)
    moved_start = dt.datetime.strptime(f"{tomorrow}T180000+0000", "%Y%m%dT%H%M%S%z")
    assert [e.start for e in after.values() if isinstance(e.start, dt.datetime)] == [moved_start]


def test_an_export_that_suddenly_lists_nothing_is_not_believed(stack, stack_resources, tenant_id, platform_sim,
                                                               clinician):
    export_source(stack, platform_sim, tenant_id, "doodle")
    now = dt.datetime.now(dt.UTC)
    poll(now)
    drain(stack, stack_resources)
    assert len(calendar(clinician)) == 1
    empty = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nEND:VCALENDAR\r\n"
    platform_sim.put_export(f"{tenant_id}-okafor", empty)
    with emitted_metrics() as metrics:
        poll(now + dt.timedelta(minutes=16))
    assert metrics[("PlatformExportFailed", None)] == 1
    assert drain(stack, stack_resources).received == 0
    assert len(calendar(clinician)) == 1


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/x",
                                 "file:///etc/passwd", "http://0.0.0.0:80/x", "gopher://127.0.0.1/x"])
def test_an_export_url_pointing_inside_is_refused(stack, stack_resources, tenant_id, platform_sim, clinician, url):
    source, _ = export_source(stack, platform_sim, tenant_id, "simplepractice")
    source.set_secret(ics_url=url)
    now = dt.datetime.now(dt.UTC)
    with emitted_metrics() as metrics:
        poll(now)
    assert metrics[("PlatformExportFailed", None)] == 1
    record = platform_intake.get(tenant_id, "simplepractice", Kind.POLL)
    assert record is not None and record.attempts == 1
    assert record.due_at is not None and record.due_at > now  # polled again later, on the retry schedule
    assert drain(stack, stack_resources).received == 0


def test_the_sweeper_run_polls_due_exports(stack, stack_resources, tenant_id, platform_sim, clinician):
    reset_sweeper()
    export_source(stack, platform_sim, tenant_id, "doodle")
    sweeper.run(dt.datetime.now(dt.UTC))
    drain(stack, stack_resources)
    assert len(calendar(clinician)) == 1
