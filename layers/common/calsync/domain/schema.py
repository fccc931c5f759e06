"""The public contracts as JSON Schema (draft 2020-12), exported from the pydantic models: what ``schemas/``
publishes — the event EHRs send (``Appointment Changed``) and the events calsync sends back
(``calsync.domain.outbound``)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from calsync.domain.contract import AppointmentChanged
from calsync.domain.outbound import PUBLISHED

APPOINTMENT_CHANGED_FILE = "appointment-changed.v1.json"


def render(model: type[BaseModel]) -> str:
    schema: dict[str, Any] = model.model_json_schema(mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_schema() -> str:
    return render(AppointmentChanged)


def all_schemas() -> dict[str, str]:
    """File name in ``schemas/`` → its content, for every published contract."""
    return {APPOINTMENT_CHANGED_FILE: render_schema(),
            **{file_name: render(model) for file_name, model in PUBLISHED.values()}}
