"""What the booking-platform jobs share: the intake items of one kind whose time has come (the intake
table's sparse ``due`` index), each claimed for a while so an overlapping run skips it, and each paid for
with one sync of the run's budget."""

from __future__ import annotations

from collections.abc import Iterator

from calsync.services.sweeper.context import Run
from calsync.store import platform_intake
from calsync.store.platform_intake import Kind, Record

PAGE = 25
"""Due items read per job and run."""


def claimed(run: Run, kind: Kind, lease_seconds: int) -> Iterator[Record]:
    """Due items of ``kind``, oldest first, claimed for ``lease_seconds``, while the budget lasts."""
    for tenant_id, platform, name in platform_intake.due(kind, run.now, PAGE):
        if not run.budget.can_sync():
            return
        run.budget.read()
        record = platform_intake.claim_due(tenant_id, platform, kind, name, run.now, lease_seconds)
        if record is None:
            continue  # another run took it, or it is no longer due
        run.budget.syncs -= 1
        yield record
