"""The disclosure audit: which fields a write discloses comes from the rendering that built it, and the
engine appends one record per write of content to a calendar (the in-memory port of the audit)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

import pytest

from calsync.core.errors import ProviderAuthError, ProviderUnavailableError, StoreError
from calsync.domain.contract import AppointmentChanged
from calsync.domain.disclosure import NO_CLIENT, disclosure
from calsync.domain.model import ClientDisplay, Integration, PrivacySettings, Provider
from calsync.domain.privacy import DISCLOSABLE, render
from calsync.domain.rules import Outcome
from calsync.services import engine as engine_module
from calsync.services.engine import Engine
from tests.support import appointments as f
from tests.support.memory import MemoryIntegrations, MemoryPorts

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
TOGGLES = ("show_visit_type", "show_location", "show_notes", "show_practice_name", "show_deep_link",
           "show_telehealth_link")
SOURCES = {"client_internal_id": [f.INTERNAL], "client_initials": ["Z.Q."], "client_first_name": [f.FIRST],
           "client_full_name": [f"{f.FIRST} {f.LAST}"], "visit_type": [f.VISIT], "practice_name": [f.PRACTICE],
           "location": [f.LOCATION, f.ADDRESS], "telehealth_link": [f.TELEHEALTH], "notes": [f.NOTES],
           "deep_link": [f.DEEP_LINK]}
"""Each disclosable field and the values that show it (time and status are always in an event's fields)."""


def _settings() -> list[PrivacySettings]:
    return [PrivacySettings(client_display=display, **dict(zip(TOGGLES, values, strict=True)))
            for display in ClientDisplay for values in itertools.product((False, True), repeat=len(TOGGLES))]


@pytest.mark.parametrize("settings", _settings(), ids=lambda s: f"{s.client_display}-{hash(s) & 0xffff}")
def test_the_disclosed_fields_are_exactly_the_fields_the_event_shows(settings: PrivacySettings) -> None:
    event = render(f.appointment(), settings)
    assert event is not None
    text = "\n".join(str(v) for k, v in dataclasses.asdict(event).items() if k != "disclosed")
    shown = {name for name, values in SOURCES.items() if any(value in text for value in values)}
    if settings.client_display is ClientDisplay.FULL_NAME:
        shown.discard("client_first_name")  # the first name is part of the full name
    assert event.disclosed == shown | {"time"}
    assert event.disclosed <= set(DISCLOSABLE)


def test_a_fallback_is_recorded_as_what_was_shown() -> None:
    """Initials of a client without names fall back to the internal id: the record says internal id."""
    nameless = f.appointment(client={"id": "c-1", "internal_id": f.INTERNAL})
    event = render(nameless, PrivacySettings(client_display=ClientDisplay.INITIALS))
    assert event is not None and "client_internal_id" in event.disclosed and "client_initials" not in event.disclosed


def test_a_status_line_is_a_disclosed_field() -> None:
    event = render(f.appointment(status="no_show"), PrivacySettings())
    assert event is not None and "status" in event.disclosed


def _integration(**privacy: object) -> Integration:
    return Integration(integration_id="int-a", tenant_id="tenant-1", practitioner_id="dr-1", provider=Provider.GOOGLE,
                       calendar_id="primary", privacy=PrivacySettings.model_validate(privacy))


def test_a_record_names_the_patient_by_the_ehr_client_id_and_never_holds_content() -> None:
    appointment = f.appointment()
    event = render(appointment, PrivacySettings(client_display=ClientDisplay.FULL_NAME, show_notes=True))
    assert event is not None
    record = disclosure(_integration(), appointment, event, "written", NOW)
    assert (record.tenant_id, record.client_id, record.destination) == ("tenant-1", "c-1", "google")
    assert record.fields == tuple(sorted(event.disclosed))
    text = repr(record) + repr(record.as_row())
    for detail in (f.FIRST, f.LAST, f.NOTES, f.INTERNAL, f.VISIT):
        assert detail not in text


def test_an_appointment_without_a_client_is_recorded_under_no_client() -> None:
    appointment = f.appointment(client=None)
    event = render(appointment, PrivacySettings())
    assert event is not None
    assert disclosure(_integration(), appointment, event, "written", NOW).client_id == NO_CLIENT


# -- the engine's write point ----------------------------------------------------------------------------


@pytest.fixture
def ports() -> MemoryPorts:
    return MemoryPorts(integrations=MemoryIntegrations(_integration(client_display="initials", show_visit_type=True)))


@pytest.fixture
def engine(ports: MemoryPorts, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setattr(engine_module, "LEASE_WAITS_SECONDS", ())
    return Engine(ports.sync_ports())


def _change(version: int, **fields: object) -> AppointmentChanged:
    return f.appointment(version=version, updated_at=f"2026-11-23T14:0{version}:00Z", **fields)


def test_every_write_is_recorded_once_and_nothing_else_is(engine: Engine, ports: MemoryPorts) -> None:
    engine.handle_change(_change(1), NOW)  # written
    engine.handle_change(_change(1), NOW)  # the same again: nothing written, nothing disclosed
    engine.handle_change(_change(2, start="2026-11-24T11:00:00-05:00", end="2026-11-24T11:30:00-05:00"), NOW)
    engine.handle_change(_change(3, status="cancelled"), NOW)  # removed: nothing disclosed
    records = ports.audit.records
    assert [(r.outcome, r.fields) for r in records] == [
        ("written", ("client_initials", "deep_link", "location", "practice_name", "time", "visit_type"))] * 2
    assert {(r.tenant_id, r.client_id, r.appointment_id, r.integration_id, r.destination) for r in records} == {
        ("tenant-1", "c-1", "apt-1", "int-a", "google")}
    assert all(r.at == NOW for r in records)


def test_a_failed_write_is_recorded_with_its_outcome(engine: Engine, ports: MemoryPorts) -> None:
    ports.calendar("int-a").fail_next(lambda: ProviderUnavailableError("google", "backendError", 503))
    assert engine.handle_change(_change(1), NOW).outcomes == {"int-a": Outcome.RETRY}
    ports.calendar("int-a").fail_next(lambda: ProviderAuthError("google", "invalid_grant", 401))
    engine.handle_change(_change(2), NOW)
    assert [r.outcome for r in ports.audit.records] == ["retry", "parked"]


def test_a_record_that_cannot_be_kept_fails_the_change_and_the_retry_records_it(engine: Engine,
                                                                                ports: MemoryPorts) -> None:
    ports.audit.failures.append(StoreError("DynamoDB PutItem failed: ProvisionedThroughputExceededException"))
    with pytest.raises(StoreError):
        engine.handle_change(_change(1), NOW)
    entry = ports.ledger.entry("int-a", "tenant-1#apt-1")
    assert entry is not None and entry.uncertain  # the calendar may hold it: the redelivery must write again
    assert engine.handle_change(_change(1), NOW).outcomes == {"int-a": Outcome.WRITTEN}
    assert [r.outcome for r in ports.audit.records] == ["written"]
    assert ports.calendar("int-a").calls == [("upsert", "apt-1"), ("upsert", "apt-1")]
