"""``calsync pause | resume | disconnect | replay``: an integration's lifecycle (``calsync.services.lifecycle``)."""

from __future__ import annotations

from typing import Annotated

import typer

from calsync.cli.ui import connect, console, guarded
from calsync.services import lifecycle

Integration = Annotated[str, typer.Argument(help="The integration.")]


def _said(what: str, integration_id: str, done: bool) -> None:
    console.print(f"{what} {integration_id}: {'done' if done else 'nothing to do'}")


@guarded
def pause(ctx: typer.Context, integration_id: Integration) -> None:
    """Stop pushing to this calendar (a retry that falls due is parked)."""
    connect(ctx)
    _said("pause", integration_id, lifecycle.pause(integration_id))


@guarded
def resume(ctx: typer.Context, integration_id: Integration,
           backfill: Annotated[bool, typer.Option(help="Also bring every appointment in the window up to date "
                                                       "(changes made while paused).")] = False) -> None:
    """Push again; parked work is replayed by the sweeper."""
    connect(ctx)
    _said("resume", integration_id, lifecycle.resume(integration_id, backfill=backfill))


@guarded
def disconnect(ctx: typer.Context, integration_id: Integration) -> None:
    """Stop everything for this integration (revoking the provider's grant is the clinician's step)."""
    connect(ctx)
    _said("disconnect", integration_id, lifecycle.disconnect(integration_id))


@guarded
def replay(ctx: typer.Context, integration_id: Integration) -> None:
    """Replay this integration's parked and dead work (the next sweeper run)."""
    connect(ctx)
    lifecycle.replay(integration_id)
    _said("replay", integration_id, True)


COMMANDS = (pause, resume, disconnect, replay)
