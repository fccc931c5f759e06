"""Schema version 2 of the contract: what it adds (``sensitive``, ``client.opted_out``), that version 1 is
still accepted as it was, and that each published schema describes exactly its version."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings

from calsync.cli.schema import schema_file
from calsync.core.errors import ContractError
from calsync.domain.contract import SCHEMA_VERSIONS, parse_detail, parse_stored
from calsync.domain.model import ClientDisplay, PrivacySettings
from calsync.domain.privacy import render
from tests.support import appointments as f
from tests.support.schema_fuzz import instances, validator

LATE = dt.datetime(3001, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
SCHEMAS = {v: json.loads(schema_file(v).read_text(encoding="utf-8")) for v in SCHEMA_VERSIONS}
EVERYTHING = PrivacySettings(client_display=ClientDisplay.FULL_NAME, show_visit_type=True, show_notes=True)


def v2(**overrides: Any) -> dict[str, Any]:
    return f.detail(schema_version=2, **overrides)


def test_a_version_1_event_is_read_as_before_not_sensitive_and_not_opted_out() -> None:
    appointment = parse_detail(f.detail(), now=NOW)
    assert appointment.schema_version == 1 and not appointment.sensitive
    assert appointment.client is not None and not appointment.client.opted_out
    assert validator(SCHEMAS[1]).is_valid(f.detail())


@pytest.mark.parametrize("extra", [{"sensitive": True}, {"sensitive": False},
                                   {"client": {"id": "c-1", "opted_out": True}}])
def test_a_version_1_event_carrying_a_version_2_field_is_refused(extra: dict[str, Any]) -> None:
    with pytest.raises(ContractError) as refused:
        parse_detail(f.detail(**extra), now=NOW)
    assert "schema_version 2" in str(refused.value)
    assert not validator(SCHEMAS[1]).is_valid(f.detail(**extra))


def test_version_2_marks_reach_the_rendering_whatever_the_clinician_chose() -> None:
    sensitive = parse_detail(v2(sensitive=True), now=NOW)
    opted_out = parse_detail(v2(client={"id": "c-1", "first_name": f.FIRST, "opted_out": True}), now=NOW)
    for appointment in (sensitive, opted_out):
        event = render(appointment, EVERYTHING, now=NOW)  # no practice policy at all
        assert event is not None and event.summary == "Busy" and f.FIRST not in event.description
        assert f.NOTES not in event.description and f.VISIT not in event.description
    assert validator(SCHEMAS[2]).is_valid(v2(sensitive=True))
    assert not validator(SCHEMAS[2]).is_valid(v2(sensitive="yes"))


def test_version_2_flags_left_off_keep_a_changes_order_key() -> None:
    """A version 1 change and its version 2 twin without the new flags are the same content (the digest
    that orders equal keys leaves the flags out while they are off)."""
    first, second = parse_detail(f.detail(), now=NOW), parse_detail(v2(), now=NOW)
    assert first.order_key.rsplit("#", 1)[0] == second.order_key.rsplit("#", 1)[0]
    assert parse_stored(second.model_dump_json()) == second


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_each_schema_fixes_its_version(version: int) -> None:
    assert SCHEMAS[version]["properties"]["schema_version"]["const"] == version
    assert ("sensitive" in SCHEMAS[version]["properties"]) is (version >= 2)


@settings(max_examples=120, deadline=None)
@given(instances(SCHEMAS[2]))
def test_every_version_2_instance_the_schema_accepts_is_accepted_or_refused_by_field(instance: dict[str, Any]) -> None:
    refusal: ContractError | None = None
    try:
        appointment = parse_detail(instance, now=LATE)
    except ContractError as error:
        refusal = error
    if refusal is not None:
        assert refusal.problems, "a refusal names its fields"
        return
    assert parse_stored(appointment.model_dump_json(exclude_none=True)) == appointment
