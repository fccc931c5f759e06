"""Booking platforms as appointment sources — the adapters: each booking, reschedule and cancellation on a
platform a practice schedules with (Calendly, Acuity, Square, HubSpot, Cal.com, ...) becomes the same
``Appointment Changed`` event an EHR sends, so privacy rendering, the ledger, retries and audit apply
unchanged.

Pure, apart from the platform API calls an adapter makes through the :class:`~api.PlatformApi` it is given:
nothing here touches DynamoDB, Secrets Manager or the bus (``calsync.services.platforms`` does, and the
sweeper's ``platform_exports`` and ``platform_fetches`` jobs).

    base       what an adapter is: the request, its notices, the booking; verification helpers
    adapters/  one module per platform (adding a platform is adding one module and its tests)
    registry   which platforms exist
    source     a tenant's settings for one platform (practitioner mapping, practice, time zone)
    mapping    booking → validated ``Appointment Changed`` detail, appointment ids
    times      the platforms' ways of writing a moment
    api        calls to a platform's API (fetch-backs) and export downloads, over ``calsync.http.guarded``
               and the ``platform`` rows of ``calsync.http.outcomes``

The platforms, their verification schemes and what is confirmed are listed in docs/booking-platforms.md.
"""
