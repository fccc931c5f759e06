"""Writes the contract's JSON Schemas into ``schemas/``, one per version (``python -m calsync.cli.schema``;
``make schema``)."""

from __future__ import annotations

import sys
from pathlib import Path

from calsync.domain.contract import SCHEMA_VERSIONS
from calsync.domain.schema import render_schema

SCHEMAS = Path(__file__).resolve().parents[4] / "schemas"


def schema_file(version: int) -> Path:
    return SCHEMAS / f"appointment-changed.v{version}.json"


SCHEMA_FILE = schema_file(1)
"""The first version's schema (still accepted)."""


def main() -> int:
    for version in SCHEMA_VERSIONS:
        schema_file(version).write_text(render_schema(version), encoding="utf-8")
        sys.stdout.write(f"wrote {schema_file(version)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
