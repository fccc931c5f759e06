"""Writes the contracts' JSON Schemas into ``schemas/``: ``Appointment Changed`` one per version, and the
events calsync publishes (``python -m calsync.cli.schema``; ``make schema``)."""

from __future__ import annotations

import sys
from pathlib import Path

from calsync.domain.schema import all_schemas, appointment_changed_file

SCHEMAS = Path(__file__).resolve().parents[4] / "schemas"


def schema_file(version: int) -> Path:
    return SCHEMAS / appointment_changed_file(version)


SCHEMA_FILE = schema_file(1)
"""The first version's schema (still accepted)."""


def main() -> int:
    for file_name, content in all_schemas().items():
        (SCHEMAS / file_name).write_text(content, encoding="utf-8")
        sys.stdout.write(f"wrote {SCHEMAS / file_name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
