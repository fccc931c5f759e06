"""The contract's tightened rules: the clock-skew allowance (issue 9, item 4), real IANA zones, RFC 3339
strings only, no digits beyond microseconds, no control characters, strict types (item 5), and the total
order of equal ordering keys (item 2). Each rejection names the field and never echoes the value."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from calsync.core.errors import ContractError
from calsync.domain.contract import (
    MAX_CLOCK_SKEW,
    AppointmentChanged,
    content_digest,
    ordering_key,
    parse_detail,
    parse_stored,
)
from tests.support.appointments import detail

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
MARKER = "Qzmarker"


def rejected(change: dict[str, Any], now: dt.datetime = NOW) -> ContractError:
    with pytest.raises(ContractError) as caught:
        parse_detail(detail(**change), now=now)
    return caught.value


def paths(error: ContractError) -> set[str]:
    return {path for path, _ in error.problems}


# -- item 4: a far-future updated_at ---------------------------------------------------------------------


def test_a_far_future_updated_at_is_refused_as_malformed() -> None:
    # A vendor clock bug stamps 2099: accepted, it would win over every later change, the cancel too
    error = rejected({"updated_at": "2099-01-01T00:00:00Z"})
    assert paths(error) == {"updated_at"}
    assert "ahead of the receiving clock" in str(error)


@pytest.mark.parametrize(("ahead", "accepted"), [
    (dt.timedelta(0), True),
    (MAX_CLOCK_SKEW - dt.timedelta(seconds=1), True),
    (MAX_CLOCK_SKEW, True),
    (MAX_CLOCK_SKEW + dt.timedelta(microseconds=1), False),
    (dt.timedelta(hours=1), False),
])
def test_updated_at_may_be_ahead_by_the_clock_skew_allowance_and_no_more(ahead: dt.timedelta,
                                                                         accepted: bool) -> None:
    stamp = (NOW + ahead).isoformat()
    if accepted:
        assert parse_detail(detail(updated_at=stamp), now=NOW).updated_at == NOW + ahead
    else:
        assert paths(rejected({"updated_at": stamp})) == {"updated_at"}


def test_the_clock_rule_uses_the_receiving_clock_by_default() -> None:
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat()
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert parse_detail(detail(updated_at=soon))
    with pytest.raises(ContractError, match="updated_at"):
        parse_detail(detail(updated_at=later))


def test_a_stored_snapshot_is_read_without_the_clock_rule() -> None:
    # The clock rule is about arrival; a snapshot read back later must load whatever the time
    stored = parse_detail(detail(updated_at=NOW.isoformat()), now=NOW).model_dump_json(exclude_none=True)
    assert parse_stored(stored).updated_at == NOW
    assert AppointmentChanged.model_validate(detail(updated_at="2099-01-01T00:00:00Z"))


# -- item 5: the contract is looser than it says ---------------------------------------------------------


@pytest.mark.parametrize("zone", ["localtime", "posix/America/New_York", "right/UTC", "Factory", "posixrules",
                                  "america/new_york", "America/New_York/", "Mars/Olympus", "", "zoneinfo/UTC"])
def test_time_zone_must_be_a_real_iana_name(zone: str) -> None:
    assert paths(rejected({"timezone": zone})) == {"timezone"}


@pytest.mark.parametrize("zone", ["America/New_York", "US/Eastern", "UTC", "Etc/UTC", "Etc/GMT+5", "EST5EDT",
                                  "Asia/Kolkata", "Asia/Calcutta", "America/Argentina/Buenos_Aires"])
def test_canonical_zones_and_their_aliases_are_accepted(zone: str) -> None:
    assert parse_detail(detail(timezone=zone), now=NOW).timezone == zone


@pytest.mark.parametrize("field", ["updated_at", "start", "end"])
@pytest.mark.parametrize("value", [
    1795442530, 1795442530.5, "1795442530", "2026-11-23 14:02:10Z", "2026-11-23T14:02Z", "2026-11-23T14:02:10",
    "2026-11-23", "20261123T140210Z", "1999-12-31T23:59:59Z", "3000-01-01T00:00:00Z", True, None,
])
def test_times_must_be_rfc3339_strings(field: str, value: object) -> None:
    assert field in paths(rejected({field: value}))


@pytest.mark.parametrize("field", ["updated_at", "start", "end"])
@pytest.mark.parametrize("fraction", ["1234567", "123456789", "0000000"])
def test_digits_beyond_microseconds_are_refused_not_truncated(field: str, fraction: str) -> None:
    # Truncated, 14:02:10.1234567 and 14:02:10.1234568 would be one timestamp
    value = f"2026-11-23T14:02:10.{fraction}Z" if field == "updated_at" else f"2026-11-24T09:30:00.{fraction}-05:00"
    assert field in paths(rejected({field: value}))


def test_rfc3339_spellings_are_accepted() -> None:
    for stamp in ("2026-11-23T14:02:10Z", "2026-11-23t14:02:10z", "2026-11-23T14:02:10.5+01:00",
                  "2026-11-23T14:02:10.123456-00:00"):
        assert parse_detail(detail(updated_at=stamp), now=NOW)


TEXT_FIELDS: dict[str, Callable[[str], dict[str, Any]]] = {  # path: how to put the value there
    "visit_type": lambda v: {"visit_type": v},
    "notes": lambda v: {"notes": v},
    "practice.name": lambda v: {"practice": {"id": "p-1", "name": v}},
    "location.name": lambda v: {"location": {"name": v}},
    "location.address": lambda v: {"location": {"address": v}},
    "client.internal_id": lambda v: {"client": {"id": "c-1", "internal_id": v}},
    "client.first_name": lambda v: {"client": {"id": "c-1", "first_name": v}},
    "client.last_name": lambda v: {"client": {"id": "c-1", "last_name": v}},
    "telehealth_url": lambda v: {"telehealth_url": f"https://video.example/{v}"},
    "deep_link": lambda v: {"deep_link": f"https://ehr.example/{v}"},
    "tenant_id": lambda v: {"tenant_id": f"t{v}"},
    "appointment_id": lambda v: {"appointment_id": f"a{v}"},
    "practitioner_id": lambda v: {"practitioner_id": f"d{v}"},
}
CONTROLS = ["\x00", "\x1b", "\x07", "\x7f", "\x85", "\x9b", "\x0b", "\x0c", "\r", "\x1c"]


@pytest.mark.parametrize("field", sorted(TEXT_FIELDS))
@pytest.mark.parametrize("control", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("where", ["inside", "end"])
def test_text_fields_refuse_control_characters(field: str, control: str, where: str) -> None:
    value = f"{MARKER}{control}{MARKER}" if where == "inside" else f"{MARKER}{control}"
    error = rejected(TEXT_FIELDS[field](value))
    assert field in paths(error)
    assert MARKER not in str(error) and control not in str(error)


@pytest.mark.parametrize("field", sorted(set(TEXT_FIELDS) - {"notes"}))
def test_only_notes_may_break_lines(field: str) -> None:
    assert field in paths(rejected(TEXT_FIELDS[field](f"{MARKER}\n{MARKER}")))
    assert field in paths(rejected(TEXT_FIELDS[field](f"{MARKER}\t{MARKER}")))


def test_notes_keep_tabs_and_line_breaks_but_no_bare_cr() -> None:
    notes = "Review labs:\n\t- A1C\r\n\t- lipids"
    assert parse_detail(detail(notes=notes), now=NOW).notes == notes
    assert paths(rejected({"notes": "a\rb"})) == {"notes"}


@pytest.mark.parametrize(("field", "value"), [
    ("version", "3"), ("version", 3.0), ("version", True), ("all_day", "yes"), ("all_day", 1),
    ("schema_version", True), ("schema_version", 1.0), ("schema_version", "1"),
])
def test_numbers_and_flags_are_strict(field: str, value: object) -> None:
    assert paths(rejected({field: value})) == {field}


def test_a_snapshot_stored_before_the_text_rules_still_loads_without_control_characters() -> None:
    # Written by an older calsync: NUL and ESC in the text, a bare CR in the notes
    old = detail(updated_at="2026-11-23T14:02:10Z", visit_type="Check\x00up\x1b[31m", notes="a\rb\nc")
    loaded = parse_stored(json.dumps(old))
    assert loaded.visit_type == "Check up [31m" and loaded.notes == "a b\nc"


# -- item 2: equal ordering keys with different content --------------------------------------------------


def test_equal_updated_at_and_version_with_different_content_are_ordered_by_content() -> None:
    first = parse_detail(detail(start="2026-11-24T09:30:00-05:00", end="2026-11-24T10:20:00-05:00"), now=NOW)
    second = parse_detail(detail(start="2026-11-24T11:30:00-05:00", end="2026-11-24T12:20:00-05:00"), now=NOW)
    assert (first.updated_at, first.version) == (second.updated_at, second.version)
    assert first.order_key != second.order_key  # a total order: one of them wins, whatever arrives last
    assert first.order_key.startswith(ordering_key(first.updated_at, first.version))


def test_an_exact_duplicate_has_an_equal_key_whatever_its_spelling() -> None:
    utc = parse_detail(detail(start="2026-11-24T14:30:00Z", end="2026-11-24T15:20:00.000000Z"), now=NOW)
    local = parse_detail(detail(start="2026-11-24T09:30:00-05:00", end="2026-11-24T10:20:00-05:00"), now=NOW)
    assert utc.order_key == local.order_key
    assert content_digest(utc) == content_digest(parse_stored(utc.model_dump_json(exclude_none=True)))


def test_keys_without_a_digest_sort_below_every_key_of_the_same_time_and_version() -> None:
    # Keys stored before the digest existed compare as the lowest of their (updated_at, version)
    change = parse_detail(detail(), now=NOW)
    legacy = ordering_key(change.updated_at, change.version)
    assert legacy < change.order_key < ordering_key(change.updated_at, (change.version or 0) + 1)
