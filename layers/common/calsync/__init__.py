"""calsync: EHR appointment changes to clinicians' own calendars.

Sub-modules by role: ``contract`` (the public event), ``privacy`` (what a clinician's calendar may show),
``store`` (DynamoDB, the only user of pynamodb), ``providers`` (outbound calendar APIs), ``engine``
(one change, end to end), ``observability`` (logger and metrics), ``errors`` (the error tree).
"""
