"""Operator commands: ``python -m calsync.cli.redrive`` (dead-letter queue), ``python -m calsync.cli.feeds``
(ICS feeds), ``python -m calsync.cli.lifecycle`` (pause, resume, disconnect, replay), ``python -m
calsync.cli.tenants`` (who may speak for a tenant), ``python -m calsync.cli.schema`` (regenerate ``schemas/``)."""
