"""Backfills at the provider's pace (``calsync.services.sweeper.backfill``), against Radicale and the Google
and Graph simulators: workers side by side, Google's batch endpoint and Graph's JSON batching, a per-run
allowance that spreads a large backfill over runs, failures of single writes inside a batch, and the
progress record an operator reads."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pytest

from calsync.cli import backfill as backfill_cli
from calsync.domain.contract import AppointmentChanged
from calsync.domain.event import EventKey
from calsync.domain.model import Integration, PrivacySettings, Provider
from calsync.services import lifecycle, recovery, sweeper
from calsync.services.sweeper import backfill
from calsync.store import appointments, integrations
from devstack.clinicians import connect_caldav
from devstack.oauth_clinicians import connect_google, connect_microsoft
from devstack.sims.google import GoogleCalendarSimulator
from devstack.sims.microsoft import MicrosoftGraphSimulator
from devstack.stack import LocalStack
from tests.support.appointments import appointment
from tests.support.pipeline import calendar
from tests.support.reliability import reset_sweeper

PRIVACY = PrivacySettings()


@pytest.fixture
def now() -> dt.datetime:
    moment = dt.datetime.now(dt.UTC).replace(microsecond=0)
    reset_sweeper(moment)
    return moment


def booked(tenant_id: str, practitioner_id: str, count: int, now: dt.datetime) -> list[AppointmentChanged]:
    """``count`` appointments stored as the EHR sent them, none of them synced yet."""
    made = []
    for n in range(count):
        start = (now + dt.timedelta(days=1 + n // 8, hours=n % 8)).replace(minute=0, second=0)
        change = appointment(tenant_id=tenant_id, appointment_id=f"apt-{n:04d}", practitioner_id=practitioner_id,
                             start=start.isoformat(), end=(start + dt.timedelta(minutes=50)).isoformat(),
                             updated_at=now.isoformat())
        appointments.save_if_newer(change, received_at=now - dt.timedelta(days=2))  # old news to the gap sweep
        made.append(change)
    return made


def backfill_now(integration: Integration, now: dt.datetime) -> sweeper.SweepReport:
    recovery.schedule_resync(integration.integration_id, now)
    return sweeper.run(now)


def google_ids(sim: GoogleCalendarSimulator, user: str) -> list[str]:
    return sorted(e["id"] for e in sim.events(user))


def test_a_google_backfill_writes_through_the_batch_endpoint_in_one_run(stack: LocalStack, tenant_id: str,
                                                                         google_sim: GoogleCalendarSimulator,
                                                                         now: dt.datetime) -> None:
    clinician = connect_google(stack, google_sim, tenant_id=tenant_id, practitioner_id="dr-g", privacy=PRIVACY)
    made = booked(tenant_id, "dr-g", 120, now)
    report = backfill_now(clinician.integration, now)
    assert report.resynced == 120 and not report.cut_short
    assert google_ids(google_sim, clinician.user) == sorted(
        EventKey(clinician.integration.integration_id, tenant_id, a.appointment_id).digest for a in made)
    batches = google_sim.calls("POST", path_contains="/batch/calendar/v3")
    assert math.ceil(120 / backfill.PACES[Provider.GOOGLE].batch) <= len(batches) <= 6
    assert len(google_sim.calls("POST", path_contains="/events")) == 120  # each insert inside a batch, once
    progress = backfill.progress(clinician.integration.integration_id)
    assert progress is not None and progress.state == "done" and progress.runs == 1
    assert progress.counts["written"] == 120 and progress.counts["batches"] == len(batches)
    stored = integrations.get(clinician.integration.integration_id)
    assert stored is not None and stored.status.value == "active"  # the first backfill made it active
    assert sweeper.run(now + dt.timedelta(minutes=1)).syncs == 0  # nothing left behind


def test_a_graph_backfill_writes_through_json_batching_four_at_a_time(stack: LocalStack, tenant_id: str,
                                                                     microsoft_sim: MicrosoftGraphSimulator,
                                                                     now: dt.datetime) -> None:
    clinician = connect_microsoft(stack, microsoft_sim, tenant_id=tenant_id, practitioner_id="dr-m",
                                  privacy=PRIVACY)
    booked(tenant_id, "dr-m", 30, now)
    report = backfill_now(clinician.integration, now)
    assert report.resynced == 30
    assert len(microsoft_sim.events(clinician.user)) == 30
    assert len({e["transactionId"] for e in microsoft_sim.events(clinician.user)}) == 30
    envelopes = microsoft_sim.calls("POST", path_contains="/$batch")
    assert len(envelopes) >= math.ceil(30 / backfill.PACES[Provider.MICROSOFT].batch)
    assert all(len(json.loads(c.request.body)["requests"]) <= 4 for c in envelopes)


def test_a_caldav_backfill_keeps_a_few_writes_in_flight(stack: LocalStack, tenant_id: str,
                                                        now: dt.datetime) -> None:
    clinician = connect_caldav(stack, tenant_id=tenant_id, practitioner_id="dr-c", privacy=PRIVACY)
    made = booked(tenant_id, "dr-c", 24, now)
    report = backfill_now(clinician.integration, now)
    assert report.resynced == 24
    assert sorted(e.uid for e in calendar(clinician)) == sorted(
        EventKey(clinician.integration.integration_id, tenant_id, a.appointment_id).uid for a in made)


def test_a_large_backfill_is_spread_over_runs_by_the_providers_allowance(
        stack: LocalStack, tenant_id: str, google_sim: GoogleCalendarSimulator, now: dt.datetime,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(backfill.PACES, Provider.GOOGLE, backfill.Pace(workers=10, batch=10, per_run=30))
    monkeypatch.setattr(backfill, "PAGE", 10)
    clinician = connect_google(stack, google_sim, tenant_id=tenant_id, practitioner_id="dr-g", privacy=PRIVACY)
    booked(tenant_id, "dr-g", 70, now)
    recovery.schedule_resync(clinician.integration.integration_id, now)
    written = []
    for minute in range(5):
        report = sweeper.run(now + dt.timedelta(minutes=minute))
        written.append(report.resynced)
        progress = backfill.progress(clinician.integration.integration_id)
        assert progress is not None
        if progress.state == "done":
            break
    assert written[:3] == [30, 30, 10]
    assert progress is not None and progress.runs == 3 and progress.counts["written"] == 70
    assert len(google_sim.events(clinician.user)) == 70


def test_a_write_refused_inside_a_batch_fails_alone_and_is_retried(
        stack: LocalStack, tenant_id: str, google_sim: GoogleCalendarSimulator, now: dt.datetime) -> None:
    clinician = connect_google(stack, google_sim, tenant_id=tenant_id, practitioner_id="dr-g", privacy=PRIVACY)
    made = booked(tenant_id, "dr-g", 20, now)
    taken = EventKey(clinician.integration.integration_id, tenant_id, made[3].appointment_id).digest
    google_sim.create_event(clinician.user, now, now + dt.timedelta(hours=1), "left over", event_id=taken)
    google_sim.inject(status=429, retry_after=120, path_contains="/events", after=5)  # one inner request
    report = backfill_now(clinician.integration, now)
    assert report.outcomes["retry"] == 1 and report.resynced == 19
    assert len(google_sim.events(clinician.user)) in (19, 20)  # one write waits; the taken id is never doubled
    progress = backfill.progress(clinician.integration.integration_id)
    assert progress is not None and progress.counts["failed"] == 1
    later = sweeper.run(now + dt.timedelta(minutes=3))  # after Retry-After: the due retry writes it
    assert later.retried == 1
    summaries = [e["summary"] for e in google_sim.events(clinician.user)]
    assert "left over" not in summaries and len(summaries) == 20


def test_an_operator_reads_the_progress(stack: LocalStack, tenant_id: str, now: dt.datetime,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    clinician = connect_caldav(stack, tenant_id=tenant_id, practitioner_id="dr-c", privacy=PRIVACY)
    booked(tenant_id, "dr-c", 5, now)
    backfill_now(clinician.integration, now)
    capsys.readouterr()
    assert backfill_cli.main(["--integration-id", clinician.integration.integration_id]) == 0
    shown: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert (shown["state"], shown["written"], shown["examined"], shown["runs"]) == ("done", 5, 5, 1)
    assert backfill_cli.main(["--integration-id", "int-unknown"]) == 1


def test_a_paused_integration_stops_its_backfill(stack: LocalStack, tenant_id: str, now: dt.datetime) -> None:
    clinician = connect_caldav(stack, tenant_id=tenant_id, practitioner_id="dr-c", privacy=PRIVACY)
    booked(tenant_id, "dr-c", 5, now)
    recovery.schedule_resync(clinician.integration.integration_id, now)
    assert lifecycle.pause(clinician.integration.integration_id)
    report = sweeper.run(now)
    assert report.resynced == 0 and calendar(clinician) == []
