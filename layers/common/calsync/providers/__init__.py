"""Calendar APIs calsync writes to, behind one small protocol (``base.CalendarProvider``): ``caldav``
(iCloud and any CalDAV server, with ``caldav_discovery`` for connecting), ``google`` (Calendar v3) and
``microsoft`` (Graph). They speak HTTP through ``calsync.http`` and are handed their credentials; they never
touch DynamoDB, Secrets Manager or each other."""
