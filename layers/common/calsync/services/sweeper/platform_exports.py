"""Job 6, booking-platform exports: the calendar exports of platforms without webhooks (SimplePractice,
Doodle) whose poll is due, each polled once (``calsync.services.platforms.exports``) for one sync of the
run's budget, so they never crowd out the calendar work of the jobs before."""

from __future__ import annotations

from calsync.services.platforms import exports
from calsync.services.sweeper._intake import claimed
from calsync.services.sweeper.context import Run
from calsync.store.platform_intake import Kind


def poll_exports(run: Run) -> None:
    for record in claimed(run, Kind.POLL, exports.LEASE_SECONDS):
        exports.poll(record, run.now)
        run.report.exports_polled += 1
