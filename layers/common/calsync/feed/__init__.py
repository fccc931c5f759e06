"""Private ICS subscription feeds: ``GET /feeds/{token}.ics``.

How the pieces fit:

* ``target`` is the feed as a sync target: it implements ``calsync.providers.base.CalendarProvider`` over
  DynamoDB. The engine
  writes to it like to any calendar: each change renders one VEVENT (``calsync.formats.ical``) through
  the integration's privacy settings (``calsync.domain.privacy.render``) and stores its bytes, then bumps the
  feed's version.
* ``serve`` answers a request: token hash → feed state → 304 when the client's validator matches, else
  one query for the VEVENTs in the sync window, joined between ``document``'s header and footer.
* ``tokens`` makes and checks the URL secrets; ``conditional`` answers conditional requests.

Creating feeds and issuing, rotating and revoking their URLs is a use case: ``calsync.services.feeds``
(``python -m calsync.cli.feeds``).
"""
