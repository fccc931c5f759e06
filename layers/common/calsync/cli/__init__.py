"""Operator commands: ``python -m calsync.cli.redrive`` (dead-letter queue), ``python -m calsync.cli.feeds``
(ICS feeds), ``python -m calsync.cli.lifecycle`` (pause, resume, disconnect, replay), ``python -m calsync.cli.backfill``
(how far a backfill has come), ``python -m calsync.cli.schema`` (regenerate ``schemas/``)."""
