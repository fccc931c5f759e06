"""Google and Microsoft calendars end to end: EHR changes through the real bus → queue → handler path
into each simulator, with the ledger in DynamoDB Local and the tokens in Secrets Manager (moto).

Counts provider API calls per change (one for a real change, none for a repeat), and covers
duplicates and reordering, a lost answer after a create, a 412 after an edit in the calendar, a 429
burst, tokens expiring mid-batch, a revoked consent, and what leaves calsync (no attendee, no field
the privacy settings hide)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from calsync.domain.model import PrivacySettings
from calsync.store import integrations, ledger
from devstack import sample_day
from devstack.oauth_clinicians import OAuthClinician, connect_google, connect_microsoft
from devstack.sims.google import GoogleCalendarSimulator
from devstack.stack import LocalStack, StackResources
from tests.support import appointments as fixtures
from tests.support.pipeline import deliver
from tests.support.reliability import received, status_events_queue

PRACTITIONER = "dr-oauth"
ZONE = sample_day.ZONE


@pytest.fixture(params=["google", "microsoft"])
def clinician(request: pytest.FixtureRequest, stack: LocalStack, tenant_id: str) -> OAuthClinician:
    if request.param == "google":
        sim: Any = request.getfixturevalue("google_sim")
        return connect_google(stack, sim, tenant_id=tenant_id, practitioner_id=PRACTITIONER, privacy=PrivacySettings())
    sim = request.getfixturevalue("microsoft_sim")
    return connect_microsoft(stack, sim, tenant_id=tenant_id, practitioner_id=PRACTITIONER, privacy=PrivacySettings())


class Ehr:
    """Appointment Changed entries with increasing updated_at, full of patient details (fixtures' markers)."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.clock = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)

    def change(self, appointment_id: str, hhmm: str, version: int, status: str = "scheduled") -> dict[str, Any]:
        self.clock += dt.timedelta(seconds=31)
        hour, minute = map(int, hhmm.split(":"))
        start = dt.datetime.combine(sample_day.day(), dt.time(hour, minute), ZONE)
        return sample_day.envelope({
            "schema_version": 1, "tenant_id": self.tenant_id, "appointment_id": appointment_id,
            "updated_at": self.clock.isoformat().replace("+00:00", "Z"), "version": version, "status": status,
            "start": start.isoformat(), "end": (start + dt.timedelta(minutes=50)).isoformat(),
            "timezone": "America/New_York", "practitioner_id": PRACTITIONER, "practice": sample_day.PRACTICE,
            "location": {"name": fixtures.LOCATION, "address": fixtures.ADDRESS}, "visit_type": fixtures.VISIT,
            "notes": fixtures.NOTES, "deep_link": fixtures.DEEP_LINK, "telehealth_url": fixtures.TELEHEALTH,
            "client": {"id": "c-1", "internal_id": f"MRN-{appointment_id}", "first_name": fixtures.FIRST,
                       "last_name": fixtures.LAST},
        })


def shown(clinician: OAuthClinician) -> list[tuple[str, str]]:
    """(internal id in the title, local start) of every event the calendar shows, sorted."""
    return sorted((event.summary.split("#")[-1], event.local_times(ZONE)[0]) for event in clinician.calendar())


def calls_for(clinician: OAuthClinician, stack: LocalStack, resources: StackResources,
              entries: list[dict[str, Any]]) -> int:
    before = clinician.api_calls()
    assert deliver(stack, resources, entries).failed == 0
    return clinician.api_calls() - before


def test_create_reschedule_cancel_and_recreate_with_one_call_per_change(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clinician: OAuthClinician) -> None:
    ehr = Ehr(tenant_id)
    created = ehr.change("apt-1", "09:00", 1)
    assert calls_for(clinician, stack, stack_resources, [created]) == 1
    assert shown(clinician) == [("MRN-apt-1", "09:00")]
    assert calls_for(clinician, stack, stack_resources, [created]) == 0  # a repeat
    assert calls_for(clinician, stack, stack_resources, [ehr.change("apt-1", "10:00", 2)]) == 1
    assert shown(clinician) == [("MRN-apt-1", "10:00")]
    assert calls_for(clinician, stack, stack_resources, [ehr.change("apt-1", "10:00", 3, "cancelled")]) == 1
    assert shown(clinician) == []
    recreate_calls = calls_for(clinician, stack, stack_resources, [ehr.change("apt-1", "11:00", 4)])
    # Google keeps a deleted event and refuses its id again: insert (409), then revive it in place
    assert recreate_calls == (2 if clinician.provider == "google" else 1)
    assert shown(clinician) == [("MRN-apt-1", "11:00")]
    integration = integrations.get(clinician.integration.integration_id)
    assert integration is not None and integration.status.value == "active"


def test_duplicates_and_reordering_converge_on_the_latest(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clinician: OAuthClinician) -> None:
    ehr = Ehr(tenant_id)
    v1, v2, v3 = ehr.change("apt-1", "09:00", 1), ehr.change("apt-1", "09:30", 2), ehr.change("apt-1", "14:00", 3)
    other = ehr.change("apt-2", "12:00", 1)
    deliver(stack, stack_resources, [v1, v3, other, v2, v3, v1, other], batch_size=1)
    assert shown(clinician) == [("MRN-apt-1", "14:00"), ("MRN-apt-2", "12:00")]
    assert clinician.api_calls() <= 3  # stale and repeated changes wrote nothing


def test_a_lost_answer_after_a_create_leaves_exactly_one_event(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clinician: OAuthClinician) -> None:
    ehr = Ehr(tenant_id)
    created = ehr.change("apt-1", "09:00", 1)
    clinician.sim.inject(method="POST", path_contains=_api_path(clinician), drop_after_commit=True)
    deliver(stack, stack_resources, [created])
    entry = ledger.get(clinician.integration.integration_id, f"{tenant_id}#apt-1")
    assert entry is not None and entry.state is not None and entry.state.value == "retry"
    assert len(clinician.calendar()) == 1  # the provider did write it
    deliver(stack, stack_resources, [created])  # redelivered (the sweeper's retry takes the same path)
    assert shown(clinician) == [("MRN-apt-1", "09:00")]
    entry = ledger.get(clinician.integration.integration_id, f"{tenant_id}#apt-1")
    assert entry is not None and entry.state is not None and entry.state.value == "synced"
    assert entry.external_id == clinician.calendar()[0].raw["id"]


def test_an_edit_in_the_calendar_is_overwritten_after_a_412(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clinician: OAuthClinician) -> None:
    ehr = Ehr(tenant_id)
    deliver(stack, stack_resources, [ehr.change("apt-1", "09:00", 1)])
    [event] = clinician.calendar()
    if isinstance(clinician.sim, GoogleCalendarSimulator):
        clinician.sim.edit(clinician.user, event.raw["id"], summary="moved by hand")
    else:
        clinician.sim.edit(clinician.user, event.raw["id"], subject="moved by hand")
    before = len(clinician.sim.api_requests())
    deliver(stack, stack_resources, [ehr.change("apt-1", "15:00", 2)])
    statuses = [r.status for r in clinician.sim.api_requests()[before:]]
    assert statuses == ([412, 200, 200] if clinician.provider == "google" else [200])  # Graph: PATCH, no If-Match
    assert shown(clinician) == [("MRN-apt-1", "15:00")]


def test_a_429_burst_is_retried_after_the_providers_wait_and_nothing_is_lost(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clinician: OAuthClinician) -> None:
    ehr = Ehr(tenant_id)
    entries = [ehr.change(f"apt-{n}", f"{9 + n}:00", 1) for n in range(3)]
    clinician.sim.inject(status=429, retry_after=900, times=3, path_contains=_api_path(clinician))
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)  # the ledger keeps whole seconds
    deliver(stack, stack_resources, entries)
    assert clinician.calendar() == []
    for n in range(3):
        entry = ledger.get(clinician.integration.integration_id, f"{tenant_id}#apt-{n}")
        assert entry is not None and entry.state is not None and entry.state.value == "retry"
        assert entry.next_attempt_at is not None and entry.next_attempt_at >= started + dt.timedelta(seconds=900)
    deliver(stack, stack_resources, entries)  # the retries (the sweeper's path), after the wait
    assert shown(clinician) == [("MRN-apt-0", "09:00"), ("MRN-apt-1", "10:00"), ("MRN-apt-2", "11:00")]


def test_tokens_expiring_mid_batch_are_refreshed_once_and_the_batch_completes(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clinician: OAuthClinician) -> None:
    ehr = Ehr(tenant_id)
    entries = [ehr.change(f"apt-{n}", f"{8 + n}:00", 1) for n in range(6)]
    clinician.sim.inject(expire_tokens=True, after=3, path_contains=_api_path(clinician))
    deliver(stack, stack_resources, entries, batch_size=10)
    assert len(shown(clinician)) == 6
    assert [r.status for r in clinician.sim.token_requests()] == [200, 200]
    assert [r.status for r in clinician.sim.api_requests()].count(401) == 1


def test_revoked_consent_marks_the_integration_parks_the_work_and_announces_it(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clinician: OAuthClinician) -> None:
    status_queue = status_events_queue(stack, stack_resources.event_bus_name, tenant_id)
    ehr = Ehr(tenant_id)
    deliver(stack, stack_resources, [ehr.change("apt-1", "09:00", 1)])
    clinician.sim.revoke(clinician.user)
    clinician.sim.expire_access_tokens()
    deliver(stack, stack_resources, [ehr.change("apt-1", "10:00", 2), ehr.change("apt-2", "13:00", 1)])
    integration = integrations.get(clinician.integration.integration_id)
    assert integration is not None
    assert (integration.status.value, integration.status_reason) == ("error", "reauth_required")
    for appointment in ("apt-1", "apt-2"):
        entry = ledger.get(integration.integration_id, f"{tenant_id}#{appointment}")
        assert entry is not None and entry.state is not None and entry.state.value == "parked"
    announced = [e for e in received(stack, status_queue) if e["detail"]["status"] == "error"]
    assert [(e["detail"]["integration_id"], e["detail"]["reason"]) for e in announced] == [
        (integration.integration_id, "reauth_required")]
    assert shown(clinician) == [("MRN-apt-1", "09:00")]  # nothing dropped: the old event stays until replay


def test_parked_work_is_replayed_after_reconnect_without_duplicates(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clinician: OAuthClinician) -> None:
    from calsync.oauth import token_secret as token_secret
    from calsync.services import lifecycle  # the reconnect entry point (engine side)
    from functions.retry_sweeper.app import lambda_handler as sweeper

    ehr = Ehr(tenant_id)
    deliver(stack, stack_resources, [ehr.change("apt-1", "09:00", 1)])
    clinician.sim.revoke(clinician.user)
    clinician.sim.expire_access_tokens()
    deliver(stack, stack_resources, [ehr.change("apt-1", "10:00", 2), ehr.change("apt-2", "13:00", 1)])
    # the clinician reconnects: new consent stored, the integration told
    sim: Any = clinician.sim
    fresh = (sim.connect(clinician.user, "calsync-local-client") if isinstance(sim, GoogleCalendarSimulator)
             else sim.connect(clinician.user, "calsync-local-client", "northside-directory"))
    stored = json.loads(stack.client("secretsmanager").get_secret_value(
        SecretId=clinician.integration.secret_ref or "", VersionStage="AWSCURRENT")["SecretString"])
    token_secret.replace(tenant_id, clinician.integration.secret_ref or "",
                         {k: v for k, v in {**stored, "refresh_token": fresh}.items() if k != "msal_cache"})
    lifecycle.reconnect(clinician.integration.integration_id)
    sweeper({}, None)
    assert shown(clinician) == [("MRN-apt-1", "10:00"), ("MRN-apt-2", "13:00")]
    integration = integrations.get(clinician.integration.integration_id)
    assert integration is not None and integration.status.value == "active"


def test_no_attendee_and_no_hidden_field_ever_leaves(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clinician: OAuthClinician) -> None:
    ehr = Ehr(tenant_id)
    deliver(stack, stack_resources, [ehr.change("apt-1", "09:00", 1), ehr.change("apt-2", "11:00", 1),
                                     ehr.change("apt-1", "09:30", 2), ehr.change("apt-2", "11:00", 2, "no_show")])
    bodies = [r.request.body.decode() for r in clinician.sim.api_requests() if r.request.body]
    assert bodies
    for body in bodies:
        assert "attendee" not in body.lower()
        for hidden in (fixtures.FIRST, fixtures.LAST, fixtures.NOTES, fixtures.VISIT, "telehealthqa"):
            assert hidden not in body
    writes = [r.request for r in clinician.sim.api_requests() if r.request.method in ("POST", "PUT", "PATCH", "DELETE")]
    if clinician.provider == "google":
        assert all(r.param("sendUpdates") == "none" for r in writes)
        assert all(json.loads(r.body)["visibility"] == "private" for r in writes if r.body)
    else:
        assert all('IdType="ImmutableId"' in r.request.headers.get("prefer", "") for r in clinician.sim.api_requests())
        assert all(json.loads(r.body)["sensitivity"] == "private" for r in writes if r.body)


# -- helpers --------------------------------------------------------------------------------------------

def _api_path(clinician: OAuthClinician) -> str:
    return "/calendar/v3/" if clinician.provider == "google" else "/v1.0/"
