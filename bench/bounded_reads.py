"""Reads that do not grow with a tenant's history: the same paths measured over a history of 1,000 and of
10,000 stored appointments (with 100 and 1,000 pending sweeper tasks), counting the items each path reads
on calsync's own DynamoDB client — listing runnable tasks, a sweeper run's gap sweep over today's changes,
filling a new feed, a backfill's run, a cached feed request. Goal: each path reads the same with ten times
the history (within a page), and at most its page or budget.

    make bench   (or: PYTHONPATH=layers/common:. unshare --net bash -c 'ip link set lo up &&
                  .venv/bin/python -m bench.bounded_reads')
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable

from devstack.deployment import Deployment, DeploymentPorts
from devstack.stack import apply_env, stack_env

PORTS = DeploymentPorts.pick()
apply_env(stack_env(PORTS.stack))
os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"

from bench.figures import goal, machine  # noqa: E402
from calsync.domain.model import SyncWindow  # noqa: E402
from calsync.feed import serve  # noqa: E402
from calsync.services import feeds as management  # noqa: E402
from calsync.services import recovery, sweeper  # noqa: E402
from calsync.store import appointments, sweeps  # noqa: E402
from tests.integration.test_bounded_reads import load_history, load_tasks  # noqa: E402
from tests.support.appointments import appointment  # noqa: E402
from tests.support.feeds import fetch, seed_feed  # noqa: E402
from tests.support.reads import counting  # noqa: E402
from tests.support.reliability import reset_sweeper  # noqa: E402

SIZES = ((1_000, 100), (10_000, 1_000))
PATHS = ("list runnable tasks", "a sweeper run (gap sweep)", "fill a new feed", "a backfill run (300 items)",
         "a feed request (cached version)")


def measure(deployment: Deployment, count: int, tasks: int, offset_days: int) -> dict[str, int]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=offset_days)
    tenant = f"reads-{count}-{int(now.timestamp())}"
    load_history(tenant, count, now)
    reset_sweeper(now)
    load_tasks(tasks, now)
    found: dict[str, int] = {}

    def read(path: str, action: Callable[[], object]) -> None:
        with counting() as reads:
            action()
        found[path] = reads.total

    read(PATHS[0], lambda: sweeps.pending(now, "replay#", limit=100))
    management.create_feed(tenant, "dr-busy", backfill=False)
    for n in range(20):
        start = now + dt.timedelta(days=2, hours=n)
        appointments.save_if_newer(appointment(tenant_id=tenant, appointment_id=f"r-{n}", practitioner_id="dr-busy",
                                               start=start.isoformat(),
                                               end=(start + dt.timedelta(minutes=30)).isoformat(),
                                               updated_at=now.isoformat()), received_at=now - dt.timedelta(minutes=5))
    read(PATHS[1], lambda: sweeper.run(now))
    reset_sweeper(now)
    feed, _ = management.create_feed(tenant, "dr-busy", backfill=False, window=SyncWindow(future_days=365))
    read(PATHS[2], lambda: management.fill(feed, now))
    reset_sweeper(now)
    recovery.schedule_resync(feed.integration_id, now)
    read(PATHS[3], lambda: sweeper.run(now, budget=sweeper.Budget(backfill_items=300)))
    served, issued = management.create_feed(tenant, "dr-feed", backfill=False, window=SyncWindow(future_days=900))
    seed_feed(deployment.stack, served, count, dt.datetime.now(dt.UTC))
    fetch(deployment.api, issued.token, accept_encoding="gzip")  # the version's first request renders it
    read(PATHS[4], lambda: fetch(deployment.api, issued.token, accept_encoding="gzip"))
    reset_sweeper(now)
    return found


def main() -> None:
    print(f"machine: {machine()}")
    serve.REQUESTS_PER_WINDOW = 1_000_000
    with Deployment(PORTS, simulators=False).start(workers=False) as deployment:
        results = {count: measure(deployment, count, tasks, 5000 + 3 * index)
                   for index, (count, tasks) in enumerate(SIZES)}
    small, large = (count for count, _ in SIZES)
    print(f"items read from DynamoDB per path, with a history of {small:,} and of {large:,} appointments")
    print(f"  {'path':34s}{f'{small:,}':>10s}{f'{large:,}':>10s}")
    for path in PATHS:
        few, many = results[small][path], results[large][path]
        print(f"  {path:34s}{few:10d}{many:10d}")
        goal(f"reads of {path}", f"{many} items with {large:,} appointments", f"{few} items with {small:,}",
             many / max(1, few), "does not grow with the history (±10 %)", many <= few * 1.1 + 5)


if __name__ == "__main__":
    main()
