"""The operator's command, ``calsync`` (``main``; one module per command group: ``views`` status and ledger,
``resync``, ``dead_letters``, ``lifecycle``, ``logs``, ``audit``, ``retention``, ``feeds``), where it acts
(``target``: a deployed stack or the local deployment) and what its commands share (``ui``). ``schema``
regenerates ``schemas/`` (``make schema``); ``python -m calsync.cli.tenants`` manages who may speak for a tenant,
``python -m calsync.cli.policies`` a practice's privacy policy, ``python -m calsync.cli.twoway`` reading
calendars back (status, confirming held removals, pulling now) and ``python -m calsync.cli.backfill`` how far a
backfill has come. The top layer: nothing imports it, and it is not deployed.
"""
