"""The JSON Schema checked into schemas/ is exactly what the pydantic contract exports."""

from __future__ import annotations

import json

from calsync.cli.schema import SCHEMA_FILE
from calsync.domain.schema import render_schema


def test_checked_in_schema_matches_the_model() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render_schema(), "run `make schema` and commit"


def test_schema_is_strict_and_names_required_fields() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False
    assert {"schema_version", "tenant_id", "appointment_id", "updated_at", "status", "start", "end",
            "timezone", "practitioner_id", "practice"} <= set(schema["required"])
