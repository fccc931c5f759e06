"""``calsync retention``: a tenant's policy for past events already pushed — shown only as "Busy" N days after
the visit (one rule of the practice's privacy policy, ``calsync.services.retention_policy``). Setting it
rewrites what is already past in the next sweeper run; later visits are rewritten on their day."""

from __future__ import annotations

from typing import Annotated

import typer

from calsync.cli.ui import connect, console, guarded
from calsync.services import retention_policy

app = typer.Typer(help="Past visits in external calendars: keep them, or show them busy-only after N days.",
                  no_args_is_help=True)
Tenant = Annotated[str, typer.Option(help="The tenant whose integrations follow the policy.")]


def _apply(tenant: str, days: int | None) -> None:
    version = retention_policy.apply(tenant, days)
    policy = "kept as they are" if days is None else f"busy-only {days} day(s) after the visit"
    console.print(f"tenant {tenant}: past events {policy} (privacy policy version {version}); every calendar "
                  f"of the tenant is rewritten by the next sweeper run")


@app.command("set")
@guarded
def set_policy(ctx: typer.Context, tenant: Tenant,
               days: Annotated[int, typer.Option(min=0, max=3650, help="Days after a visit ends.")]) -> None:
    """Show past visits only as "Busy" this many days after they end."""
    connect(ctx)
    _apply(tenant, days)


@app.command("clear")
@guarded
def clear_policy(ctx: typer.Context, tenant: Tenant) -> None:
    """Drop the policy: past visits in the sync window are shown in full again (rewritten by the resync)."""
    connect(ctx)
    _apply(tenant, None)
