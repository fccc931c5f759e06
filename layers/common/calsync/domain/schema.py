"""The public contract as JSON Schema (draft 2020-12), exported from the pydantic models: what
``schemas/`` publishes for EHRs to validate against before they send."""

from __future__ import annotations

import json
from typing import Any

from calsync.domain.contract import AppointmentChanged


def render_schema() -> str:
    schema: dict[str, Any] = AppointmentChanged.model_json_schema(mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
