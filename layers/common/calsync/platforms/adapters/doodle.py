"""Doodle: no public API or webhooks were found; a calendar export (ICS URL in the tenant's platform
secret, ``ics_url``) is polled by the sweeper. The export's existence and shape are not confirmed.
"""

from __future__ import annotations

from calsync.platforms.adapters._ics import IcsExport


class Doodle(IcsExport):
    name = "doodle"
    title = "Doodle"


PLATFORM = Doodle()
