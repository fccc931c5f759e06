"""The spine end to end: EventBridge bus → rule → SQS → on_appointment_change → ledger → Radicale.

Calendars are read back from Radicale itself (devstack.calendar_reader), never from calsync's view.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from calsync.domain.model import ClientDisplay, PrivacySettings
from calsync.store import ledger
from devstack import sample_day
from devstack.clinicians import CalDavClinician, connect_caldav
from devstack.stack import LocalStack, StackResources
from tests.support.pipeline import as_expected, calendar, captured_logs, dead_letters, deliver


@pytest.fixture
def clinicians(stack: LocalStack, tenant_id: str) -> dict[str, CalDavClinician]:
    return {
        practitioner: connect_caldav(stack, tenant_id=tenant_id, practitioner_id=practitioner,
                                     privacy=sample_day.PRIVACY[practitioner])
        for practitioner in (sample_day.OKAFOR, sample_day.LINDQVIST)
    }


def assert_calendars_as_expected(clinicians: dict[str, CalDavClinician]) -> None:
    expected = sample_day.expected_calendars()
    for practitioner, clinician in clinicians.items():
        events = calendar(clinician)
        assert as_expected(events) == expected[practitioner], practitioner
        assert len(events) == len(expected[practitioner]), "duplicates on the calendar"
        assert all(event.attendees == 0 for event in events), "patients are never attendees"
        assert all(event.marker for event in events), "every event carries our marker"


def test_a_day_of_changes_reaches_the_calendars(stack: LocalStack, stack_resources: StackResources,
                                                tenant_id: str, clinicians: dict[str, CalDavClinician]) -> None:
    # Given two connected clinicians / When the day's changes travel the real path
    with captured_logs() as logs:
        result = deliver(stack, stack_resources, sample_day.changes(tenant_id))
    # Then every calendar shows exactly the expected events
    assert result.received == len(sample_day.changes(tenant_id))
    assert_calendars_as_expected(clinicians)
    # and the malformed event is in the dead-letter queue with a reason naming the field
    letters = [d for d in dead_letters(stack, stack_resources) if d["body"]["detail"]["tenant_id"] == tenant_id]
    assert len(letters) == 1
    assert letters[0]["body"]["detail"]["appointment_id"] == sample_day.MALFORMED_APPOINTMENT
    assert "timezone" in letters[0]["reason"]
    # and no patient detail reached a log line
    text = logs.getvalue()
    assert text.count("\n") > 10
    for client in sample_day.CLIENTS.values():
        assert client["first_name"] not in text and client["last_name"] not in text
    for secret in [*sample_day.NOTES.values(), "Therapy session", "Prenatal visit", "Medication review"]:
        assert secret not in text


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("order", ["twice", "reversed", "one_by_one"])
def test_duplicates_and_reordering_converge(stack: LocalStack, stack_resources: StackResources, tenant_id: str,
                                            clinicians: dict[str, CalDavClinician], order: str) -> None:
    entries = sample_day.changes(tenant_id)
    if order == "twice":
        deliver(stack, stack_resources, entries)
        deliver(stack, stack_resources, entries)
    elif order == "reversed":
        deliver(stack, stack_resources, list(reversed(entries)))
    else:
        deliver(stack, stack_resources, entries, batch_size=1)
    assert_calendars_as_expected(clinicians)
    dead_letters(stack, stack_resources)


def test_a_repeat_makes_no_calendar_write(stack: LocalStack, stack_resources: StackResources, tenant_id: str,
                                          clinicians: dict[str, CalDavClinician]) -> None:
    entries = sample_day.changes(tenant_id)
    deliver(stack, stack_resources, entries)
    before = {e.href: e.raw for c in clinicians.values() for e in calendar(c)}
    with captured_logs() as logs:
        deliver(stack, stack_resources, entries)
    after = {e.href: e.raw for c in clinicians.values() for e in calendar(c)}
    assert before == after  # not even DTSTAMP changed: nothing was rewritten
    outcomes = [line.get("outcomes") for line in _lines(logs.getvalue()) if line.get("message") == "change applied"]
    assert outcomes and all(set((o or {}).values()) <= {"unchanged", "superseded"} for o in outcomes if o)
    dead_letters(stack, stack_resources)


def test_malformed_event_does_not_fail_its_batch(stack: LocalStack, stack_resources: StackResources,
                                                 tenant_id: str, clinicians: dict[str, CalDavClinician]) -> None:
    good = sample_day.changes(tenant_id)[:3]
    broken = json.loads(good[0]["Detail"])
    broken.update(appointment_id="apt-bad", end=broken["start"])  # end must follow start
    not_json = {**good[0], "Detail": json.dumps({"schema_version": 1, "tenant_id": tenant_id})}
    batch = [good[0], sample_day.envelope(broken), good[1], not_json, good[2]]
    result = deliver(stack, stack_resources, batch)
    assert result.failed == 0  # nothing was retried: poison goes straight to the DLQ
    letters = [d for d in dead_letters(stack, stack_resources) if d["body"]["detail"]["tenant_id"] == tenant_id]
    reasons = sorted(letter["reason"] for letter in letters)
    assert len(reasons) == 2
    assert any("end must be after start" in r for r in reasons)
    assert any("appointment_id" in r and "practitioner_id" in r for r in reasons)
    okafor = {e.summary for e in calendar(clinicians[sample_day.OKAFOR])}
    assert okafor == {"[Main Street Family Practice] J.R. · Follow-up",
                      "[Main Street Family Practice] M.C. · Therapy session",
                      "[Main Street Family Practice] K.O. · New patient"}


def test_concurrent_invocations_make_one_event(stack: LocalStack, tenant_id: str,
                                               clinicians: dict[str, CalDavClinician]) -> None:
    # Eight invocations apply the same change at the same moment (Lambda runs them in parallel)
    from calsync.core.errors import LeaseBusyError
    from calsync.domain.contract import parse_detail
    from calsync.services import engine

    appointment = parse_detail(json.loads(sample_day.changes(tenant_id)[0]["Detail"]))
    start = threading.Barrier(8)
    busy: list[LeaseBusyError] = []

    def invoke() -> None:
        start.wait()
        try:
            engine.handle_change(appointment)
        except LeaseBusyError as error:  # SQS would redeliver this one
            busy.append(error)

    workers = [threading.Thread(target=invoke) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if busy:
        engine.handle_change(appointment)  # the redelivery
    events = calendar(clinicians[sample_day.OKAFOR])
    assert [e.summary for e in events] == ["[Main Street Family Practice] J.R. · Follow-up"]


def test_privacy_change_rewrites_on_next_change(stack: LocalStack, stack_resources: StackResources,
                                               tenant_id: str, clinicians: dict[str, CalDavClinician]) -> None:
    from calsync.store import integrations

    entry = sample_day.changes(tenant_id)[3]  # Dr Lindqvist, Petra Novak
    deliver(stack, stack_resources, [entry])
    clinician = clinicians[sample_day.LINDQVIST]
    assert [e.summary for e in calendar(clinician)] == ["[Main Street Family Practice] #A-7342"]
    integration = clinician.integration.model_copy(
        update={"privacy": PrivacySettings(client_display=ClientDisplay.FULL_NAME, show_practice_name=False)})
    integrations.put(integration)
    deliver(stack, stack_resources, [entry])  # the same change again: only the rendering differs
    assert [e.summary for e in calendar(clinician)] == ["Petra Novak"]
    item = ledger.get(integration.integration_id, f"{tenant_id}#apt-201")
    assert item is not None and item.state is not None and item.state.value == "synced"


def test_wrong_app_password_parks_the_work(stack: LocalStack, stack_resources: StackResources,
                                           tenant_id: str, clinicians: dict[str, CalDavClinician]) -> None:
    from calsync.aws import secret_store as secrets
    from calsync.services import writers
    from calsync.store import integrations

    clinician = clinicians[sample_day.OKAFOR]
    stack.radicale.add_user(clinician.username, "rotated-by-the-clinician")  # the app password was revoked
    secrets.forget()
    writers.forget()
    entry = sample_day.changes(tenant_id)[0]
    deliver(stack, stack_resources, [entry])
    integration = integrations.get(clinician.integration.integration_id)
    assert integration is not None
    assert (integration.status.value, integration.status_reason) == ("error", "reauth_required")
    item = ledger.get(integration.integration_id, f"{tenant_id}#apt-101")
    assert item is not None and item.state is not None and item.state.value == "parked"
