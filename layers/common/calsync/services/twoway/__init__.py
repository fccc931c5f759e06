"""Two-way sync: reading clinicians' calendars back.

    readers      which reader (and push-channel watcher) reads an integration's calendars, with its credentials
    requests     asking for a pull: coalesced per integration, queued as a job for the pull worker
    watching     push channels and subscriptions: started, renewed, stopped; what lifecycle steps set in motion
    pull         one pull job: each watched calendar read (incremental, or in full after a lost sync state)
    busy_time    a calendar's reading turned into stored busy blocks, guarded against mass removal, published
    restore      calsync's own events moved or deleted by the clinician are put back (the EHR is the truth)
    conflicts    busy time overlapping scheduled appointments: announced once, and once more when over
    webhooks     Google push notifications and Graph change and lifecycle notifications, verified
    availability when a clinician is busy, across their integrations (the EHR's booking page)

Notifications are hints, never content: every change is read from the provider by a pull.
"""
