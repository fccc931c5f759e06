"""Every recorded sample of every platform maps to an ``Appointment Changed`` detail that the published
JSON Schema (schemas/appointment-changed.v1.json) accepts, checked with jsonschema — not with the pydantic
model the schema was exported from."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from calsync.platforms import mapping, registry
from calsync.platforms.base import Booking, Person
from tests.support.platform_requests import TENANT, SampleApi, signed, source
from tests.support.platform_samples import every_sample, load

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "appointment-changed.v1.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def now() -> dt.datetime:
    """The receiving clock, read when a test maps (a module-level time would be minutes old in a long run,
    and a request signed since then would be ahead of it)."""
    return dt.datetime.now(dt.UTC)


def bookings_of(platform_name: str, name: str) -> list[Booking]:
    platform = registry.get(platform_name)
    assert platform is not None
    sample = load(platform_name, name)
    if sample.content_type == "text/calendar":
        return platform.export(sample.raw, source(platform_name))
    found = []
    for notice in platform.notices(signed(sample), source(platform_name)):
        if notice.booking is not None:
            found.append(notice.booking)
        elif notice.reference is not None and not notice.removed:
            booking = platform.fetch(SampleApi(sample), notice.reference, source(platform_name))  # type: ignore[arg-type]
            assert booking is not None, f"{platform_name}/{name}: the sample's API has no {notice.reference}"
            found.append(booking)
    return found


REMOVALS_ONLY = {("hubspot", "meeting-deleted")}


@pytest.mark.parametrize(("platform", "name"), every_sample(), ids=[f"{p}/{n}" for p, n in every_sample()])
def test_sample_maps_to_a_detail_the_published_schema_accepts(platform, name):
    bookings = bookings_of(platform, name)
    if (platform, name) in REMOVALS_ONLY:
        assert bookings == []
        return
    assert bookings
    for booking in bookings:
        change = mapping.detail(booking, source(platform), mapping.appointment_id(platform, booking.booking_id), now())
        detail: dict[str, Any] = mapping.as_event_detail(change)
        errors = sorted(VALIDATOR.iter_errors(detail), key=lambda e: list(e.path))
        assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
        assert detail["tenant_id"] == TENANT
        assert detail["appointment_id"].startswith(f"{platform}-")
        assert detail["practice"] == {"id": "main-street", "name": "Main Street Family Practice"}
        assert detail["practitioner_id"] == "dr-okafor"
        assert dt.datetime.fromisoformat(detail["end"]) > dt.datetime.fromisoformat(detail["start"])


@pytest.mark.parametrize("platform", [p.name for p in registry.all_platforms()])
def test_every_platform_has_samples(platform):
    assert (Path(__file__).resolve().parents[2] / "events" / "platforms" / platform).is_dir()


def test_ordering_keys_come_from_the_platform():
    square = bookings_of("square", "booking-updated-rescheduled")[0]
    assert square.version == 2
    assert square.changed_at == dt.datetime.fromisoformat(load("square", "booking-updated-rescheduled").body[
        "data"]["object"]["booking"]["updated_at"])
    calendly = bookings_of("calendly", "invitee-created")[0]
    assert calendly.changed_at is not None
    acuity = bookings_of("acuity", "scheduled")[0]
    assert acuity.changed_at is None  # Acuity keeps no modification time: the read time orders its changes


def test_reschedules_reported_as_cancel_and_create_are_linked():
    cancel = bookings_of("calendly", "invitee-canceled-rescheduled")[0]
    created = bookings_of("calendly", "invitee-created-rescheduled")[0]
    assert cancel.status == "cancelled" and cancel.continued_by == created.booking_id
    assert created.continues == cancel.booking_id
    assert cancel.continued_by_ref == "/scheduled_events/EVT0000000000002/invitees/INV0000000000002"
    plain = bookings_of("calendly", "invitee-canceled")[0]
    assert plain.continued_by is None
    moved = bookings_of("calcom", "booking-rescheduled")[0]
    assert moved.continues == "calbk0000000000000000001"


@pytest.mark.parametrize("raw", ["INV0000000000001", "a b/c?d", "x" * 300, "#ZB-00042", "sp-appt@sample.example"])
def test_appointment_ids_are_valid_stable_and_distinct(raw):
    shaped = mapping.appointment_id("zoho_bookings", raw)
    assert shaped == mapping.appointment_id("zoho_bookings", raw)
    assert len(shaped) <= 128
    jsonschema.validate(shaped, SCHEMA["properties"]["appointment_id"])
    assert shaped != mapping.appointment_id("zoho_bookings", raw + "x")


def test_unsafe_ids_do_not_collide_after_shaping():
    assert mapping.appointment_id("acuity", "a b") != mapping.appointment_id("acuity", "a_b")


def test_no_practitioner_mapping_is_reported_not_guessed():
    booking = bookings_of("calendly", "invitee-created")[0]
    unmapped = source("calendly").__class__(**{**source("calendly").__dict__, "practitioners": {}})
    with pytest.raises(mapping.Unmapped):
        mapping.detail(booking, unmapped, "calendly-x", now())


def test_client_ids_never_carry_an_email_address():
    booking = bookings_of("calcom", "booking-created")[0]
    assert isinstance(booking.client, Person)
    assert "@" not in booking.client.ref
    detail = mapping.as_event_detail(mapping.detail(booking, source("calcom"), "calcom-x", now()))
    assert "example.com" not in json.dumps(detail)


def test_state_digest_ignores_when_a_state_was_read():
    booking = bookings_of("acuity", "scheduled")[0]
    read = now()
    first = mapping.detail(booking, source("acuity"), "acuity-700001", read)
    later = mapping.detail(booking, source("acuity"), "acuity-700001", read + dt.timedelta(minutes=5))
    assert first.updated_at != later.updated_at
    assert mapping.state_digest(first) == mapping.state_digest(later)
    moved = bookings_of("acuity", "rescheduled")[0]
    assert mapping.state_digest(mapping.detail(moved, source("acuity"), "acuity-700001", now())) != (
        mapping.state_digest(first))
