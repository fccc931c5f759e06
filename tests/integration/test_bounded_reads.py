"""No per-run or per-request read grows with a tenant's history: with thousands of stored appointments and
pending tasks, each path reads at most its page or its budget, counted on calsync's own DynamoDB client
(``tests.support.reads``) — listing runnable sweeper tasks, filling a new feed, a sweeper run's gap sweep,
a feed's window, a backfill's run.

The ``slow`` variant holds 10,000 appointments and 1,000 pending tasks; the one in ``make test`` a tenth of
that. The bounds asserted are the same for both: they do not depend on the size.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from calsync.domain.model import SyncWindow
from calsync.feed import cache
from calsync.services import feeds as management
from calsync.services import recovery, sweeper
from calsync.store import appointments, sweeps
from calsync.store.tables import SweepTaskItem
from devstack.deployment import Deployment
from tests.support.appointments import appointment
from tests.support.feeds import fetch, seed_feed
from tests.support.reads import counting
from tests.support.reliability import reset_sweeper


@dataclass(frozen=True)
class History:
    tenant_id: str
    practitioner_id: str
    appointments: int
    tasks: int
    now: dt.datetime


def load_history(tenant_id: str, count: int, now: dt.datetime) -> None:
    """``count`` appointments over the next 300 days, all received two days ago (history, not news)."""
    received = now - dt.timedelta(days=2)

    def made() -> Iterator[tuple[object, dt.datetime]]:
        for n in range(count):
            start = (now + dt.timedelta(days=1 + n * 300 // count, minutes=17 * (n % 20))).replace(second=0)
            yield appointment(tenant_id=tenant_id, appointment_id=f"h-{n:05d}", practitioner_id="dr-busy",
                              start=start.isoformat(), end=(start + dt.timedelta(minutes=30)).isoformat(),
                              updated_at=received.isoformat()), received

    assert appointments.load(made()) == count  # type: ignore[arg-type]


def load_tasks(count: int, now: dt.datetime) -> None:
    """``count`` replays due now and ``count`` recovery probes not due for a day (integrations unknown)."""
    with SweepTaskItem.batch_write() as batch:
        for n in range(count):
            for name, when in ((f"replay#int-gone-{n:05d}", now - dt.timedelta(minutes=5)),
                               (f"recover#int-gone-{n:05d}", now + dt.timedelta(days=1))):
                epoch = int(when.timestamp())
                batch.save(SweepTaskItem(sweeps.PARTITION, name, not_before=epoch, generation=1,
                                         due_bucket=sweeps.listing(name), next_attempt_at=epoch))


@pytest.fixture(scope="module", params=[pytest.param((1_000, 100), id="1k-appointments"),
                                        pytest.param((10_000, 1_000), id="10k-appointments",
                                                     marks=pytest.mark.slow)])
def history(request: pytest.FixtureRequest, deployment: Deployment) -> History:
    count, tasks = request.param
    size_index = [1_000, 10_000].index(count)
    # the gap sweep sees every tenant's recent changes: this history lives far from the other tests' clocks
    # (and each size three days after the other)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=5000 + 3 * size_index)
    tenant_id = f"busy-{count}-{int(now.timestamp())}"
    load_history(tenant_id, count, now)
    return History(tenant_id, "dr-busy", count, tasks, now)


@pytest.fixture
def tasks(history: History) -> Iterator[History]:
    reset_sweeper(history.now)
    load_tasks(history.tasks, history.now)
    yield history
    reset_sweeper(history.now)


def test_listing_runnable_tasks_reads_one_page_however_many_wait(tasks: History) -> None:
    with counting() as reads:
        due = sweeps.pending(tasks.now, "replay#", limit=100)
        later = sweeps.pending(tasks.now, "recover#", limit=100)
    assert len(due) == 100 and later == []
    assert reads.calls["Query"] == 2 and reads.items["Query"] <= 100  # the probes not yet due cost nothing
    assert reads.calls["BatchGetItem"] == 1 and reads.items["BatchGetItem"] == 100


def test_a_sweeper_run_reads_the_recent_changes_not_the_history(tasks: History) -> None:
    management.create_feed(tasks.tenant_id, tasks.practitioner_id, backfill=False)  # someone follows dr-busy
    recent = [appointment(tenant_id=tasks.tenant_id, appointment_id=f"r-{n}", practitioner_id=tasks.practitioner_id,
                          start=(tasks.now + dt.timedelta(days=2, hours=n)).isoformat(),
                          end=(tasks.now + dt.timedelta(days=2, hours=n, minutes=30)).isoformat(),
                          updated_at=tasks.now.isoformat()) for n in range(20)]
    for change in recent:  # stored, never synced: the gap sweep's job
        appointments.save_if_newer(change, received_at=tasks.now - dt.timedelta(minutes=5))
    with counting() as reads:
        report = sweeper.run(tasks.now)
    assert report.gap_examined == 20 and report.gap_repaired == 20, report.as_dict()
    # the last day's slots (the first pass of each look: 576 partitions, empty but for the 20 changes), a page
    # of tasks, who follows dr-busy, the 20 snapshots and their ledger items: nothing of the history, nor of
    # the other tasks
    assert reads.items["Query"] <= 20 + 100 + 5, str(reads)
    assert reads.total <= 600, str(reads)


def test_filling_a_new_feed_reads_its_share_and_hands_the_rest_to_the_backfill(history: History) -> None:
    reset_sweeper(history.now)
    feed, _ = management.create_feed(history.tenant_id, history.practitioner_id, backfill=False,
                                     window=SyncWindow(past_days=30, future_days=365))
    with counting() as reads:
        looked_at = management.fill(feed, history.now)
    assert looked_at == management.FILL_AT_ONCE
    assert reads.items["Query"] <= management.FILL_AT_ONCE + management.FILL_PAGE, str(reads)
    assert reads.items["BatchGetItem"] <= management.FILL_AT_ONCE, str(reads)
    assert sweeps.get(recovery.resync_task(feed.integration_id), history.now) is not None  # the rest: the backfill


def test_a_backfill_run_reads_what_its_budget_allows(history: History) -> None:
    reset_sweeper(history.now)
    feed, _ = management.create_feed(history.tenant_id, history.practitioner_id, backfill=False,
                                     window=SyncWindow(past_days=30, future_days=365))
    recovery.schedule_resync(feed.integration_id, history.now)
    allowance = 300
    with counting() as reads:
        report = sweeper.run(history.now, budget=sweeper.Budget(backfill_items=allowance))
    assert report.resynced == allowance
    pages = allowance // 100 + 1
    assert reads.items["Query"] <= allowance + 100 * pages, str(reads)  # index pages (+ the ledger's, empty)
    assert reads.items["BatchGetItem"] <= 2 * allowance, str(reads)  # snapshots and ledger items


def test_a_feed_is_read_page_by_page_once_per_version(history: History, deployment: Deployment) -> None:
    feed, issued = management.create_feed(history.tenant_id, "dr-feed", backfill=False,
                                          window=SyncWindow(past_days=30, future_days=900))
    events = history.appointments
    seed_feed(deployment.stack, feed, events, dt.datetime.now(dt.UTC))  # served from today's window
    with counting() as reads:
        first = fetch(deployment.api, issued.token, accept_encoding="gzip")
    assert first.status == 200 and first.body.count(b"BEGIN:VEVENT") == events
    assert reads.calls["Query"] == math.ceil(events / cache.PAGE) + (events % cache.PAGE == 0)
    assert reads.items["Query"] == events
    with counting() as reads:
        again = fetch(deployment.api, issued.token, accept_encoding="gzip")
    assert again.body == first.body
    assert reads.calls["Query"] == 0 and reads.total <= 2  # the token (an update) and the feed's state
