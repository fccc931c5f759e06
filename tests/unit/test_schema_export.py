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
