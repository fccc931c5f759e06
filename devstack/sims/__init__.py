"""Local stand-ins for Google Calendar and Microsoft Graph (and their OAuth servers), and for the booking
platforms' APIs and calendar exports, on 127.0.0.1.

``devstack.sims.google`` and ``devstack.sims.microsoft`` are the calendar simulators and
``devstack.sims.platforms`` the booking platforms'; the rest is what they share: the HTTP server, request
log, faults and clock (:mod:`.http`), tokens (:mod:`.oauth`), the authorization-code flow and consent page
(:mod:`.authorize`), outbound notifications with their unreliability switches (:mod:`.push`),
recurring-series expansion (:mod:`.recurrence`) and a webhook receiver for tests (:mod:`.receiver`).
Nothing here is used by deployed code.
"""
