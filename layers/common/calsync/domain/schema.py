"""The public contracts as JSON Schema (draft 2020-12), exported from the pydantic models: what ``schemas/``
publishes — the event EHRs send (``Appointment Changed``, one file per schema version, for EHRs to validate
against before they send) and the events calsync sends back (``calsync.domain.outbound``).

The model accepts every version; version ``n``'s schema is the model's with ``schema_version`` fixed to
``n`` and, for version 1, without the fields version 2 added (``contract.V2_FIELDS``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from pydantic import BaseModel

from calsync.domain.contract import SCHEMA_VERSIONS, V2_FIELDS, AppointmentChanged
from calsync.domain.outbound import PUBLISHED

_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _dumped(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def appointment_changed_file(version: int) -> str:
    return f"appointment-changed.v{version}.json"


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
    return {"$schema": _DRAFT, **found}


def render_schema(version: int = SCHEMA_VERSIONS[-1]) -> str:
    return _dumped(schema(version))


def render(model: type[BaseModel]) -> str:
    """An outbound event's schema, as its model validates it."""
    return _dumped({"$schema": _DRAFT, **model.model_json_schema(mode="validation")})


def all_schemas() -> dict[str, str]:
    """File name in ``schemas/`` → its content, for every published contract."""
    return {**{appointment_changed_file(version): render_schema(version) for version in SCHEMA_VERSIONS},
            **{file_name: render(model) for file_name, model in PUBLISHED.values()}}
