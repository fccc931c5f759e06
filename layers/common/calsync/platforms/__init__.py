"""Booking platforms as appointment sources: each booking, reschedule and cancellation on a platform a
practice schedules with (Calendly, Acuity, Square, HubSpot, Cal.com, ...) becomes the same
``Appointment Changed`` event an EHR sends, so privacy rendering, the ledger, retries and audit apply
unchanged.

    base       what an adapter is: the request, its notices, the booking; verification helpers
    adapters/  one module per platform (adding a platform is adding one module and its tests)
    registry   which platforms exist
    source     a tenant's settings for one platform (practitioner mapping, practice, time zone)
    mapping    booking → validated ``Appointment Changed`` detail, appointment ids
    times      the platforms' ways of writing a moment
    guard      SSRF-guarded requests to tenant-supplied URLs
    api        calls to a platform's API (fetch-backs), with calsync's HTTP error mapping
    sources    settings and credentials of a tenant's sources; secret URLs
    intake     the webhook service: verify, refuse, de-duplicate, then fetch back and publish
    publishing a booking onto the bus: reschedule lineage, held cancels, removals, state de-duplication
    fetching   fetch-backs now (in a webhook) and queued (retried by the sweeper), reschedule holds
    polling    the sweeper's jobs: calendar exports, queued fetch-backs, reschedule holds

The platforms, their verification schemes and what is confirmed are listed in docs/booking-platforms.md.
"""
