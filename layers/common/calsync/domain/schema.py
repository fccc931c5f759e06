"""The public contract as JSON Schema (draft 2020-12), exported from the pydantic models: what
``schemas/`` publishes for EHRs to validate against before they send, one file per schema version.

The model accepts every version; version ``n``'s schema is the model's with ``schema_version`` fixed to
``n`` and, for version 1, without the fields version 2 added (``contract.V2_FIELDS``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from calsync.domain.contract import SCHEMA_VERSIONS, V2_FIELDS, AppointmentChanged


def schema(version: int) -> dict[str, Any]:
    if version not in SCHEMA_VERSIONS:
        raise ValueError(f"no schema version {version}")
    found: dict[str, Any] = copy.deepcopy(AppointmentChanged.model_json_schema(mode="validation"))
    found["$id"] = f"https://schemas.calsync.dev/appointment-changed/v{version}.json"
    found["description"] = f"``detail`` of an ``Appointment Changed`` event (schema version {version})."
    found["properties"]["schema_version"] = {"const": version, "title": "Schema Version", "type": "integer"}
    if version == 1:
        for path in V2_FIELDS:
            *parents, name = path.split(".")
            target = found
            for parent in parents:
                target = found["$defs"][parent.capitalize()]
            target["properties"].pop(name)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **found}


def render_schema(version: int = SCHEMA_VERSIONS[-1]) -> str:
    return json.dumps(schema(version), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
