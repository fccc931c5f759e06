"""calsync: EHR appointment changes to clinicians' own calendars, and their busy time back.

The packages are the architecture (``docs/architecture.md`` draws it). Each layer imports only the
layers below it; ``make lint`` checks it (import contracts in ``pyproject.toml``):

    cli                      operator commands (``python -m calsync.cli.…``)
    services                 use cases: the sync engine, the sweeper and its jobs, integration lifecycle
                             and health, feed management, and ``writers`` (which provider writes a calendar)
    feed | providers | oauth adapters that talk to the outside: the ICS feed's storage and serving,
                             calendar APIs (CalDAV, Google, Microsoft Graph), OAuth token sources
    store | aws | http       DynamoDB (the only user of pynamodb), other AWS services (bus, dead-letter
                             queue, Secrets Manager), the HTTP client and what each answer means
    formats                  iCalendar rendering (VEVENT, VTIMEZONE)
    domain                   pure rules and types: the event contract, integrations, the ledger entry,
                             privacy rendering, the retry policy, the sync rules
    core                     settings, logging and metrics, the error tree

Lambda handlers (``functions/*/app.py``) sit on top and stay thin.
"""
