"""The event contract: what is accepted, what is rejected, and that rejections name the field."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.core.errors import ContractError
from calsync.domain.contract import AppointmentStatus, ordering_key, parse_detail, parse_envelope
from tests.support.appointments import FIRST, NOTES, detail, envelope


def test_a_full_event_is_accepted() -> None:
    # Given a complete event / When parsed
    appointment = parse_envelope(envelope())
    # Then every part is kept
    assert appointment.tenant_id == "tenant-1"
    assert appointment.status is AppointmentStatus.SCHEDULED
    assert appointment.client is not None and appointment.client.first_name == FIRST
    assert appointment.start.utcoffset() == dt.timedelta(hours=-5)


def test_minimal_event_is_accepted() -> None:
    minimal = detail()
    for optional in ("version", "location", "visit_type", "telehealth_url", "notes", "deep_link", "client"):
        minimal.pop(optional)
    appointment = parse_detail(minimal)
    assert appointment.client is None and appointment.version is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"status": "postponed"}, "status"),
        ({"schema_version": 3}, "schema_version"),
        ({"start": "2026-11-24T09:30:00"}, "start"),  # no offset
        ({"updated_at": "yesterday"}, "updated_at"),
        ({"tenant_id": "has space"}, "tenant_id"),
        ({"deep_link": "http://insecure.example/x"}, "deep_link"),
        ({"version": -1}, "version"),
        ({"unexpected": 1}, "unexpected"),
        ({"practice": {"name": "no id"}}, "practice.id"),
    ],
)
def test_invalid_events_name_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ContractError) as caught:
        parse_detail(detail(**change))
    assert field in str(caught.value)
    assert any(path == field for path, _ in caught.value.problems)


def test_missing_required_field_is_named() -> None:
    bad = detail()
    del bad["practitioner_id"]
    with pytest.raises(ContractError, match="practitioner_id"):
        parse_detail(bad)


def test_end_must_follow_start() -> None:
    with pytest.raises(ContractError, match="end must be after start"):
        parse_detail(detail(end="2026-11-24T09:00:00-05:00"))


def test_all_day_needs_local_midnights() -> None:
    ok = parse_detail(detail(all_day=True, start="2026-11-27T00:00:00-05:00", end="2026-11-28T00:00:00-05:00"))
    assert (ok.start_date.isoformat(), ok.end_date.isoformat()) == ("2026-11-27", "2026-11-28")
    with pytest.raises(ContractError, match="midnight"):
        parse_detail(detail(all_day=True))


def test_rejection_never_echoes_values() -> None:
    # A bad value next to PHI: the error lists fields and reasons only
    bad = detail(start="not-a-date", notes=NOTES)
    bad["client"] = {"id": "c 1", "first_name": FIRST}
    with pytest.raises(ContractError) as caught:
        parse_detail(bad)
    message = str(caught.value)
    assert "client.id" in message and "start" in message
    assert FIRST not in message and NOTES not in message and "c 1" not in message


@pytest.mark.parametrize(
    ("envelope_change", "field"),
    [({"detail-type": "Something Else"}, "detail-type"), ({"source": "crm.x"}, "source")],
)
def test_envelope_is_checked(envelope_change: dict[str, str], field: str) -> None:
    with pytest.raises(ContractError, match=field):
        parse_envelope({**envelope(), **envelope_change})


def test_non_object_envelope_is_rejected() -> None:
    with pytest.raises(ContractError, match="not a JSON object"):
        parse_envelope([1, 2])


def test_ordering_key_sorts_like_updated_at_then_version() -> None:
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    keys = [
        ordering_key(t, None),
        ordering_key(t, 1),
        ordering_key(t, 2),
        ordering_key(t + dt.timedelta(microseconds=1), 0),
        ordering_key(t + dt.timedelta(days=400), 0),
    ]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_ordering_key_is_independent_of_offset() -> None:
    utc = parse_detail(detail(updated_at="2026-11-23T14:02:10Z"))
    local = parse_detail(detail(updated_at="2026-11-23T09:02:10-05:00"))
    assert utc.order_key == local.order_key
