"""``calsync status`` (integrations as a table) and ``calsync ledger`` (what each calendar should hold and what
it holds, for one integration or one appointment)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Annotated

import typer
from rich.table import Table

from calsync.cli.ui import connect, console, guarded, print_json, styled, when
from calsync.domain.model import IntegrationStatus
from calsync.services import inspection


@guarded
def status(ctx: typer.Context,
           tenant: Annotated[str | None, typer.Option(help="Only this tenant's integrations.")] = None,
           state: Annotated[IntegrationStatus | None,
                            typer.Option("--status", help="Only those in this status.")] = None,
           as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False) -> None:
    """The integrations and their status: which calendars are behind, and why."""
    target = connect(ctx)
    found = sorted(inspection.all_integrations(tenant, state), key=lambda i: (i.tenant_id, i.practitioner_id,
                                                                             i.integration_id))
    if as_json:
        print_json([{"integration_id": i.integration_id, "tenant_id": i.tenant_id,
                     "practitioner_id": i.practitioner_id, "practice_scope": i.practice_scope,
                     "provider": i.provider.value, "status": i.status.value, "status_reason": i.status_reason,
                     "last_synced_at": i.last_synced_at, "last_error": i.last_error} for i in found])
        return
    table = Table(title=f"Integrations — {target.description}", title_justify="left")
    for column in ("integration", "tenant", "follows", "provider", "status", "reason", "last synced", "last error"):
        table.add_column(column, overflow="fold")
    for i in found:
        follows = f"practice {i.practice_scope}" if i.practice_scope else i.practitioner_id
        table.add_row(i.integration_id, i.tenant_id, follows, i.provider.value, styled(i.status.value),
                      i.status_reason or "", when(i.last_synced_at), i.last_error or "")
    console.print(table)
    counts = Counter(i.status.value for i in found)
    console.print(f"{len(found)} integration(s): " + ", ".join(f"{styled(s)} {n}" for s, n in sorted(counts.items())))


@guarded
def ledger(ctx: typer.Context,
           integration: Annotated[str | None, typer.Option(help="One integration's ledger.")] = None,
           appointment: Annotated[str | None, typer.Option(help="One appointment, on every calendar.")] = None,
           tenant: Annotated[str | None, typer.Option(help="The appointment's tenant.")] = None,
           limit: Annotated[int, typer.Option(min=1, help="At most this many items of an integration.")] = 200,
           as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False) -> None:
    """What each calendar should hold (the latest snapshot, rendered) against what the ledger says it holds.

    Hashes, states and field names only: never an appointment's content."""
    if (integration is None) == (appointment is None):
        raise ValueError("give --integration ID, or --appointment ID with --tenant")
    if appointment is not None and tenant is None:
        raise ValueError("--appointment needs --tenant")
    connect(ctx)
    if integration is not None:
        rows = inspection.integration_ledger(integration, limit)
        title = f"Ledger of {integration}"
    else:
        assert appointment is not None and tenant is not None
        rows = inspection.appointment_ledger(tenant, appointment)
        title = f"Appointment {appointment} (tenant {tenant}) on every calendar"
    if as_json:
        print_json([dataclasses.asdict(row) for row in rows])
        return
    table = Table(title=title, title_justify="left")
    for column in ("integration", "appointment", "should hold", "holds", "attempts", "last error", "verdict"):
        table.add_column(column, overflow="fold")
    for row in rows:
        should = row.should
        if row.should == "event":
            should = f"event {(row.should_hash or '')[:8]}: {', '.join(row.fields)}"
        holds = f"{styled(row.state)} {(row.holds_hash or '')[:8]}" if row.state else "nothing recorded"
        verdict = f"[green]{row.verdict}[/green]" if row.verdict == "in step" else f"[yellow]{row.verdict}[/yellow]"
        table.add_row(f"{row.integration_id} ({row.provider})", row.appointment_key.partition("#")[2], should, holds,
                      str(row.attempts), row.last_error or "", verdict)
    console.print(table)
    behind = sum(1 for row in rows if row.verdict != "in step")
    console.print(f"{len(rows)} item(s), {behind} not in step")
