"""Writes the contract's JSON Schema into ``schemas/`` (``python -m calsync.cli.schema``; ``make schema``)."""

from __future__ import annotations

import sys
from pathlib import Path

from calsync.domain.schema import render_schema

SCHEMA_FILE = Path(__file__).resolve().parents[4] / "schemas" / "appointment-changed.v1.json"


def main() -> int:
    SCHEMA_FILE.write_text(render_schema(), encoding="utf-8")
    sys.stdout.write(f"wrote {SCHEMA_FILE}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
