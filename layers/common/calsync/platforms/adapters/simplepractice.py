"""SimplePractice: no public API and no webhooks; a clinician's calendar export (its ICS subscription URL,
kept in the tenant's platform secret as ``ics_url``) is polled by the sweeper. That SimplePractice offers
such an export, and what its events contain, is not confirmed against published documentation.
"""

from __future__ import annotations

from calsync.platforms.adapters._ics import IcsExport


class SimplePractice(IcsExport):
    name = "simplepractice"
    title = "SimplePractice"


PLATFORM = SimplePractice()
