"""``calsync``: the operator's command (installed with the project: pyproject ``[project.scripts]``).

    calsync [--stack NAME [--profile P] [--region R] | --env-file PATH] COMMAND ...

    status                        integrations and their status, as a table
    ledger                        one integration's or one appointment's calendars: should hold vs holds
    resync appointment|integration|practice
                                  bring calendars in line (progress bar, summary; resumable, Ctrl-C safe)
    dlq inspect|redrive           the dead-letter queues (dry run, progress bar)
    pause|resume|disconnect|replay
                                  an integration's lifecycle
    logs                          the handlers' logs, by tenant, integration or appointment (--follow)
    audit export                  one patient's accounting of disclosures (CSV, JSON)
    retention set|clear           a tenant's policy for past events (busy-only after N days)
    feeds ...                     ICS feeds (create, tokens, issue, rotate, revoke, delete)

The same commands work on a deployed stack (resources from its CloudFormation outputs) and on the local
deployment (``make serve`` prints the ``--env-file`` to use): ``calsync.cli.target``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from calsync.cli import audit, dead_letters, feeds, lifecycle, logs, resync, retention, views
from calsync.cli.ui import Options, connect

app = typer.Typer(name="calsync", no_args_is_help=True, add_completion=False, rich_markup_mode="rich",
                  help="Operate a calsync deployment: status, ledgers, resyncs, dead letters, logs, the "
                       "disclosure audit. Works on a deployed stack (--stack) and on the local deployment "
                       "(--env-file, printed by `make serve`).")


@app.callback()
def main(ctx: typer.Context,
         stack: Annotated[str | None, typer.Option(envvar="CALSYNC_STACK",
                                                   help="A deployed stack: its resources come from its outputs.")]
         = None,
         profile: Annotated[str | None, typer.Option(envvar="AWS_PROFILE", help="AWS profile (with --stack).")] = None,
         region: Annotated[str | None, typer.Option(help="AWS region (with --stack).")] = None,
         env_file: Annotated[Path | None, typer.Option(envvar="CALSYNC_ENV_FILE", exists=True, dir_okay=False,
                                                       help="The local deployment's environment (make serve).")]
         = None) -> None:
    ctx.obj = Options(stack=stack, profile=profile, region=region, env_file=env_file)


app.command()(views.status)
app.command()(views.ledger)
app.add_typer(resync.app, name="resync")
app.add_typer(dead_letters.app, name="dlq")
for command in lifecycle.COMMANDS:
    app.command()(command)
app.command()(logs.logs)
app.add_typer(audit.app, name="audit")
app.add_typer(retention.app, name="retention")


@app.command("feeds", context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             add_help_option=False)
def feeds_command(ctx: typer.Context) -> None:
    """ICS feeds: create, tokens, issue, rotate, revoke, delete (calsync feeds --help)."""
    connect(ctx)
    raise typer.Exit(feeds.main(ctx.args))



def run() -> None:
    """The console script's entry point."""
    app()
