"""The domain: pure types and decisions, no I/O.

    contract      the public ``Appointment Changed`` event (its JSON Schema is in ``schemas/``) and its order
    model         integrations, privacy settings, sync windows and the enums around them
    text          which characters text may carry when it enters, and rendering stored text safely
    integration_values  what an integration's settings may hold: patterns, option allowlists per provider
    ledger        what calsync knows each external calendar holds
    event         what a calendar shows for one appointment, and how calsync names it there
    privacy       the one place that decides what a calendar may show
    rules         the sync rules: wanted, in step, superseded, drift, what a failure means
    retry_policy  when a failed sync is tried again, and when calsync gives up
    feed          the ICS feed's records (state, tokens)
    schema        the contract as JSON Schema
    secret_names  which secrets belong to which tenant (the name scheme checked before every secret call)
"""
