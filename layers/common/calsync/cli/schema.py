"""Exports the contract as JSON Schema into ``schemas/`` (``python -m calsync.cli.schema``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from calsync.domain.contract import AppointmentChanged

SCHEMA_FILE = Path(__file__).resolve().parents[4] / "schemas" / "appointment-changed.v1.json"


def render_schema() -> str:
    schema: dict[str, Any] = AppointmentChanged.model_json_schema(mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    SCHEMA_FILE.write_text(render_schema(), encoding="utf-8")
    sys.stdout.write(f"wrote {SCHEMA_FILE}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
