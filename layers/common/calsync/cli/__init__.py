"""Operator commands: ``python -m calsync.cli.redrive`` (dead-letter queue), ``python -m calsync.cli.feeds``
(ICS feeds), ``python -m calsync.cli.lifecycle`` (pause, resume, disconnect, replay), ``python -m
calsync.cli.twoway`` (reading calendars back: status, confirming held removals, pulling now), ``python -m
calsync.cli.schema`` (regenerate ``schemas/``)."""
