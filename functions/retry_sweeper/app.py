"""Runs every minute (template.yaml, RetrySweeperFunction): the engine's background work.

Not implemented yet. The later work (retry sweeper, see ARCHITECTURE.md "Data flow") retries ledger items whose
``next_attempt_at`` is due (Ledger ``due`` index), runs the 24 h gap sweep that repairs drift between the
Appointments table and the ledger, renews Google/Graph watch channels and polls CalDAV calendars. Until then
every tick fails loudly, so the function's Errors alarm shows that nothing is being retried.
"""

from __future__ import annotations

from typing import Any, NoReturn

PENDING_WORK = (
    "retry_sweeper is not implemented yet: due retries, the gap sweep, channel renewal and CalDAV polling "
    "come with the retry sweeper work"
)


def lambda_handler(event: dict[str, Any], context: object) -> NoReturn:
    raise NotImplementedError(PENDING_WORK)
