"""``calsync audit export``: one patient's accounting of disclosures for a period, as CSV or JSON.

Each row is one write of the patient's appointment content to a calendar outside calsync: when, the
tenant, the patient's EHR client id, the appointment, the integration and the kind of destination, the
fields shown (as the privacy settings applied decided them) and the outcome. Never the content itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from calsync.cli.ui import connect, errors, guarded
from calsync.domain.disclosure import COLUMNS
from calsync.services.accounting import accounting

app = typer.Typer(help="The accounting of disclosures (HIPAA): who received which fields of a patient's visits.",
                  no_args_is_help=True)


class Format(StrEnum):
    CSV = "csv"
    JSON = "json"


def moment(text: str, *, end: bool = False) -> dt.datetime:
    """A date (``2026-11-01``: its start, or with ``end`` the start of the next day) or an ISO 8601 moment."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        parsed = dt.datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    return start + dt.timedelta(days=1) if end else start


@app.command("export")
@guarded
def export(ctx: typer.Context,
           tenant: Annotated[str, typer.Option(help="The patient's tenant.")],
           client: Annotated[str, typer.Option(help="The patient's client id in the EHR.")],
           start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD) or moment (ISO 8601), UTC.")],
           end: Annotated[str, typer.Option("--to", help="Last day, included (or an ISO 8601 moment, excluded).")],
           output_format: Annotated[Format, typer.Option("--format", help="csv or json.")] = Format.CSV,
           output: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None) -> None:
    """Export one patient's accounting of disclosures for a period."""
    connect(ctx)
    rows = [record.as_row() for record in accounting(tenant, client, moment(start), moment(end, end=True))]
    if output_format is Format.JSON:
        text = json.dumps({"tenant_id": tenant, "client_id": client, "from": moment(start).isoformat(),
                           "to": moment(end, end=True).isoformat(), "disclosures": rows}, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        errors.print(f"{len(rows)} disclosure(s) written to {output}")
