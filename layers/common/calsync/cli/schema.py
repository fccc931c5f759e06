"""Writes the contracts' JSON Schemas into ``schemas/`` (``python -m calsync.cli.schema``; ``make schema``)."""

from __future__ import annotations

import sys
from pathlib import Path

from calsync.domain.schema import APPOINTMENT_CHANGED_FILE, all_schemas

SCHEMAS = Path(__file__).resolve().parents[4] / "schemas"
SCHEMA_FILE = SCHEMAS / APPOINTMENT_CHANGED_FILE


def main() -> int:
    for file_name, content in all_schemas().items():
        (SCHEMAS / file_name).write_text(content, encoding="utf-8")
        sys.stdout.write(f"wrote {SCHEMAS / file_name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
