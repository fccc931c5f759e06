"""The use cases, over the adapters below them.

    engine      one change, end to end; one integration's sync under its ledger lease (``Engine`` over
                ``ports``; ``default()`` is the deployed one)
    ports       what the engine needs, as protocols (DynamoDB modules satisfy them; tests pass memory)
    writers     which provider writes an integration's calendar, with its credentials and endpoints
    sweeper     the background run: due retries, recovery probes, replays, resyncs, the gap sweep, renewals
    status      integration status transitions, announced on the bus
    recovery    how an integration's health moves as syncs succeed and fail
    lifecycle   connect, pause, resume, disconnect, reconnect, update
    feeds       creating feeds and issuing, rotating and revoking their URLs
    platforms   booking platforms as appointment sources: webhook intake, fetch-backs, polled exports
"""
