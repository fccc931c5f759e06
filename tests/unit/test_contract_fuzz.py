"""The contract fuzzed from its published JSON Schema (issue 9, item 5).

* Every instance the schema accepts is accepted by the model, or refused with a :class:`ContractError`
  naming real fields: never another exception. An accepted one survives the store's round trip with the
  same ordering key.
* Mutations the contract forbids (control characters, epoch numbers, bogus zones, over-precise timestamps,
  loose types) are refused by the model naming the mutated field, without echoing the value; where JSON
  Schema can say it, the schema refuses them too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calsync.cli.schema import SCHEMA_FILE
from calsync.core.errors import ContractError
from calsync.domain.contract import iana_zone_names, parse_detail, parse_stored
from tests.support.appointments import detail
from tests.support.schema_fuzz import instances, validator

SCHEMA: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
VALIDATOR = validator(SCHEMA)
LATE = dt.datetime(3001, 1, 1, tzinfo=dt.UTC)  # every updated_at the schema allows is in this clock's past
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
MARKER = "Qzmarker"
EXAMPLES = "America/New_York 2026-11-23T14:02:10.512Z"  # what the reasons quote as examples


def _paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for name, sub in schema.get("properties", {}).items():
        found.add(prefix + name)
        for option in sub.get("anyOf", [sub]):
            if "$ref" in option:
                found |= _paths(SCHEMA["$defs"][option["$ref"].removeprefix("#/$defs/")], f"{prefix}{name}.")
    return found


FIELD_PATHS = _paths(SCHEMA) | {"(event)"}


@settings(max_examples=150, deadline=None)
@given(instances(SCHEMA))
def test_every_instance_the_schema_accepts_is_accepted_or_refused_by_field(instance: dict[str, Any]) -> None:
    refusal: ContractError | None = None
    try:
        appointment = parse_detail(instance, now=LATE)
    except ContractError as error:
        refusal = error
    if refusal is not None:
        assert refusal.problems, "a refusal names its fields"
        assert {path for path, _ in refusal.problems} <= FIELD_PATHS
        return
    again = parse_stored(appointment.model_dump_json(exclude_none=True))
    assert again == appointment and again.order_key == appointment.order_key


# -- mutations -------------------------------------------------------------------------------------------

CONTROL = st.one_of(st.characters(min_codepoint=0x00, max_codepoint=0x1F),
                    st.characters(min_codepoint=0x7F, max_codepoint=0x9F))
TEXT: dict[str, Callable[[str], dict[str, Any]]] = {  # path: where the value goes
    "visit_type": lambda v: {"visit_type": v},
    "notes": lambda v: {"notes": v},
    "practice.name": lambda v: {"practice": {"id": "p-1", "name": v}},
    "location.name": lambda v: {"location": {"name": v}},
    "location.address": lambda v: {"location": {"address": v}},
    "client.internal_id": lambda v: {"client": {"id": "c-1", "internal_id": v}},
    "client.first_name": lambda v: {"client": {"id": "c-1", "first_name": v}},
    "client.last_name": lambda v: {"client": {"id": "c-1", "last_name": v}},
    "client.id": lambda v: {"client": {"id": f"c{v}"}},
    "telehealth_url": lambda v: {"telehealth_url": f"https://video.example/{v}"},
    "deep_link": lambda v: {"deep_link": f"https://ehr.example/{v}"},
    "tenant_id": lambda v: {"tenant_id": f"t{v}"},
    "appointment_id": lambda v: {"appointment_id": f"a{v}"},
    "practitioner_id": lambda v: {"practitioner_id": f"d{v}"},
    "practice.id": lambda v: {"practice": {"id": f"p{v}"}},
}
TIMES = ("updated_at", "start", "end")


@st.composite
def control_characters(draw: st.DrawFn) -> tuple[str, dict[str, Any], bool]:
    field = draw(st.sampled_from(sorted(TEXT)))
    control = draw(CONTROL.filter(lambda c: field != "notes" or c not in "\t\n"))
    value = draw(st.sampled_from([f"{MARKER}{control}{MARKER}", f"{MARKER}{control}", f"{control}{MARKER}"]))
    return field, TEXT[field](value), True


@st.composite
def epoch_numbers(draw: st.DrawFn) -> tuple[str, dict[str, Any], bool]:
    field = draw(st.sampled_from(TIMES))
    seconds = draw(st.integers(946_684_800, 4_000_000_000))
    value = draw(st.sampled_from([seconds, seconds + 0.5, str(seconds), seconds * 1000]))
    return field, {field: value}, True


@st.composite
def over_precise(draw: st.DrawFn) -> tuple[str, dict[str, Any], bool]:
    field = draw(st.sampled_from(TIMES))
    digits = draw(st.text("0123456789", min_size=7, max_size=12))
    base = {"updated_at": "2026-11-23T14:02:10", "start": "2026-11-24T09:30:00", "end": "2026-11-24T10:20:00"}
    return field, {field: f"{base[field]}.{digits}{draw(st.sampled_from(['Z', '-05:00']))}"}, True


ZONE_SHAPED = st.from_regex(r"[A-Za-z][A-Za-z0-9_+-]{0,20}(/[A-Za-z0-9_+-]{1,20}){0,2}", fullmatch=True)


@st.composite
def bogus_zones(draw: st.DrawFn) -> tuple[str, dict[str, Any], bool]:
    real = draw(st.sampled_from(sorted(iana_zone_names())))
    zone = draw(st.one_of(
        st.sampled_from(["localtime", "Factory", "posixrules", f"posix/{real}", f"right/{real}", real.lower(),
                         real.upper(), f"{real}/", f"/{real}", f"../{real}", f"{real}/x"]),
        ZONE_SHAPED.filter(lambda name: name not in iana_zone_names()),
    ).filter(lambda name: name not in iana_zone_names()))
    return "timezone", {"timezone": zone}, False  # the schema checks the shape; the list is the model's


@st.composite
def loose_types(draw: st.DrawFn) -> tuple[str, dict[str, Any], bool]:
    field, value = draw(st.sampled_from([
        ("version", "3"), ("version", 3.0), ("version", True), ("all_day", "true"), ("all_day", 0),
        ("schema_version", True), ("schema_version", 1.0), ("schema_version", "1"),
    ]))
    return field, {field: value}, not isinstance(value, float)  # to JSON Schema, 3.0 is the integer 3


@settings(max_examples=300, deadline=None)
@given(st.one_of(control_characters(), epoch_numbers(), over_precise(), bogus_zones(), loose_types()))
def test_mutated_instances_are_refused_naming_the_field(mutation: tuple[str, dict[str, Any], bool]) -> None:
    field, change, schema_says = mutation
    instance = detail(**change)
    with pytest.raises(ContractError) as caught:
        parse_detail(instance, now=NOW)
    assert field in {path for path, _ in caught.value.problems}, caught.value.problems
    text = str(caught.value)
    assert MARKER not in text
    for value in map(str, change.values()):  # long values only: "3" or "UTC" are in any message
        assert len(value) < 10 or value in EXAMPLES or value not in text, "the value was echoed"
    assert not VALIDATOR.is_valid(instance) or not schema_says, f"the schema accepts the {field} mutation"


def test_the_unmutated_base_is_valid() -> None:
    # the mutations above start from a detail both the schema and the model accept
    assert VALIDATOR.is_valid(detail()) and parse_detail(detail(), now=NOW)
