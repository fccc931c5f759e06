"""Booking platforms as appointment sources: the effects around the pure adapters of ``calsync.platforms``.

    intake      the webhook service: verify, refuse, de-duplicate, then fetch back and publish
    publishing  a booking onto the bus: reschedule lineage, held cancels, removals, state de-duplication
    fetching    fetch-backs now (in a webhook) and queued (retried by the sweeper), reschedule holds
    exports     one calendar export polled (the sweeper's ``platform_exports`` job decides which are due)
    sources     a tenant's sources: settings in the intake table, credentials in Secrets Manager, secret URLs
"""
