"""``calsync resync``: bring calendars in line with the EHR — one appointment now, or an integration's or a
practice's whole window as a resumable job with a progress bar (``calsync.services.resyncs``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from calsync.cli.ui import connect, console, guarded, interruptible, progress, styled
from calsync.domain.model import SyncWindow
from calsync.services import resyncs

app = typer.Typer(help="Bring calendars in line with the EHR: one appointment, an integration's window, a practice.",
                  no_args_is_help=True)
STOPPED = 3
"""Exit status of a resync stopped before it was complete (Ctrl-C or --stop-after): run it again to go on."""

StopAfter = Annotated[int | None, typer.Option(min=1, help="Stop after this many syncs; the rest is resumed by the "
                                                            "next run of this command, or by the sweeper.")]
Restart = Annotated[bool, typer.Option(help="Start from the beginning even if an earlier run was interrupted.")]


@app.command("appointment")
@guarded
def appointment(ctx: typer.Context, appointment_id: Annotated[str, typer.Argument(help="The EHR's appointment id.")],
                tenant: Annotated[str, typer.Option(help="The appointment's tenant.")],
                force: Annotated[bool, typer.Option(help="Write even where the ledger says the calendar is in step "
                                                         "(an event deleted or edited by hand).")] = False) -> None:
    """Sync one appointment to every calendar that should show it or holds it, now."""
    connect(ctx)
    with progress() as bar:
        task = bar.add_task(f"appointment {appointment_id}", total=None)
        outcomes = resyncs.appointment(tenant, appointment_id, force=force,
                                       on_each=lambda _, __: bar.advance(task))
        bar.update(task, total=len(outcomes), completed=len(outcomes))
    table = Table(title=f"Appointment {appointment_id}", title_justify="left")
    table.add_column("integration")
    table.add_column("outcome")
    for integration_id, outcome in sorted(outcomes.items()):
        table.add_row(integration_id, styled(outcome.value))
    console.print(table)
    if not outcomes:
        console.print("no calendar follows or holds this appointment")


def _drive(job: resyncs.Resync, what: str, stop_after: int | None) -> None:
    if job.resumed:
        console.print(f"resuming the {what} resync where it stopped (--restart to begin again)")
    with interruptible() as stop, progress() as bar:
        task = bar.add_task(f"{what}: appointments examined", total=job.total or None)

        def show(now: resyncs.Progress) -> None:
            waiting = " (the sweeper holds it: waiting)" if now.waited and not now.examined else ""
            bar.update(task, completed=min(now.examined, job.total) if job.total else now.examined,
                       description=f"{what}: examined, {now.report.resynced} synced{waiting}")

        result = job.drive(show, stop, stop_after)
        if result.done and job.total:
            bar.update(task, completed=job.total)
    summary = Table(title=f"Resync of {what}", title_justify="left", show_header=False)
    summary.add_row("appointments examined", str(result.examined))
    summary.add_row("calendars synced (behind, now in step)", str(result.report.resynced))
    for outcome, number in sorted(result.report.outcomes.items()):
        summary.add_row(f"  outcome {outcome}", str(number))
    summary.add_row("skipped (another invocation held the item)", str(result.report.busy))
    summary.add_row("integrations that failed to build (see logs)", str(result.report.errors))
    console.print(summary)
    if result.done:
        console.print("[green]complete[/green]")
        return
    console.print("[yellow]stopped before the end[/yellow]: where it stopped is stored — run the same command again "
                  "to go on (the sweeper also finishes it within minutes)")
    raise typer.Exit(STOPPED)


@app.command("integration")
@guarded
def integration(ctx: typer.Context, integration_id: Annotated[str, typer.Argument(help="The integration.")],
                restart: Restart = False, stop_after: StopAfter = None) -> None:
    """Compare every appointment in one integration's window (and everything its ledger holds) with its
    calendar, and sync whatever is behind."""
    connect(ctx)
    _drive(resyncs.integration(integration_id, restart=restart), f"integration {integration_id}", stop_after)


@app.command("practice")
@guarded
def practice(ctx: typer.Context, practice_id: Annotated[str, typer.Argument(help="The practice (EHR id).")],
             tenant: Annotated[str, typer.Option(help="The practice's tenant.")],
             past_days: Annotated[int, typer.Option(min=0, max=3650)] = SyncWindow().past_days,
             future_days: Annotated[int, typer.Option(min=1, max=3650)] = SyncWindow().future_days,
             restart: Restart = False, stop_after: StopAfter = None) -> None:
    """Compare every appointment of one practice in a window with every calendar that should show it or
    holds it, and sync whatever is behind."""
    connect(ctx)
    job = resyncs.practice(tenant, practice_id, SyncWindow(past_days=past_days, future_days=future_days),
                           restart=restart)
    _drive(job, f"practice {practice_id}", stop_after)
