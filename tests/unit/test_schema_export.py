"""The JSON Schemas checked into schemas/ are exactly what the pydantic contract exports, one per version."""

from __future__ import annotations

import json

import pytest

from calsync.cli.schema import schema_file
from calsync.domain.contract import SCHEMA_VERSIONS
from calsync.domain.schema import render_schema


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_checked_in_schema_matches_the_model(version: int) -> None:
    assert schema_file(version).read_text(encoding="utf-8") == render_schema(version), "run `make schema` and commit"


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_schema_is_strict_and_names_required_fields(version: int) -> None:
    schema = json.loads(schema_file(version).read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False
    assert {"schema_version", "tenant_id", "appointment_id", "updated_at", "status", "start", "end",
            "timezone", "practitioner_id", "practice"} <= set(schema["required"])


def test_every_published_schema_is_checked_in_as_exported() -> None:
    from calsync.cli.schema import SCHEMAS
    from calsync.domain.schema import all_schemas

    for file_name, content in all_schemas().items():
        assert (SCHEMAS / file_name).read_text(encoding="utf-8") == content, f"{file_name}: run `make schema`"


def test_outbound_events_are_strict_and_carry_no_free_text_by_default() -> None:
    from calsync.cli.schema import SCHEMAS

    busy = json.loads((SCHEMAS / "external-busy-time-changed.v1.json").read_text(encoding="utf-8"))
    assert busy["additionalProperties"] is False
    assert {"tenant_id", "practitioner_id", "integration_id", "blocks", "changed_at"} <= set(busy["required"])
    change = busy["$defs"]["BlockChange"]
    assert {"block_id", "ordering_key", "deleted"} <= set(change["required"])
