"""The sweeper's per-run bounds, its stop margin against the function timeout, its bookkeeping's place
in the Ledger table, and the recovery-probe back-off."""

from __future__ import annotations

import datetime as dt

from calsync.cli import dead_letters
from calsync.core.settings import get_settings
from calsync.services import recovery, sweeper
from calsync.services.sweeper import context, due
from calsync.store import sweeps, tables
from calsync.store.tables import LedgerItem, SweepTaskItem
from devstack.cfn_template import load_template


def test_a_budget_runs_out_of_syncs_reads_and_time() -> None:
    budget = sweeper.Budget(syncs=1, reads=10, remaining_ms=lambda: 60_000, margin_ms=25_000)
    assert budget.can_sync() and not budget.cut_short
    budget.syncs -= 1
    assert not budget.can_sync() and budget.can_read() and budget.cut_short
    budget = sweeper.Budget(syncs=5, reads=2)
    budget.read(2)
    assert not budget.can_read() and not budget.can_sync()
    late = sweeper.Budget(remaining_ms=lambda: 24_999, margin_ms=25_000)
    assert not late.can_sync() and not late.can_read() and late.cut_short


def test_a_run_stops_well_before_the_function_times_out() -> None:
    function = load_template()["Resources"]["RetrySweeperFunction"]["Properties"]
    margin_seconds = sweeper.Budget().margin_ms / 1000
    assert margin_seconds >= 2 * get_settings().provider_timeout_seconds  # room for a slow provider call
    assert function["Timeout"] - margin_seconds >= 20  # and still time for real work
    schedule = function["Events"]["Tick"]["Properties"]["Schedule"]
    assert schedule == "rate(1 minute)"


def test_default_bounds_keep_a_run_small() -> None:
    assert context.MAX_SYNCS <= 200 and context.MAX_READS <= 2000
    assert due.DUE_SHARE >= 2  # due retries never take the whole run


def test_sweeper_tasks_live_in_the_ledger_table_under_a_partition_no_integration_can_have() -> None:
    assert tables.TABLE_SETTINGS[SweepTaskItem] == tables.TABLE_SETTINGS[LedgerItem]
    def keys(model: type[LedgerItem] | type[SweepTaskItem]) -> set[tuple[str, bool]]:
        attributes = model.get_attributes().values()
        return {(a.attr_name, a.is_hash_key) for a in attributes if a.is_hash_key or a.is_range_key}

    assert keys(SweepTaskItem) == keys(LedgerItem)
    assert sweeps.PARTITION.startswith("~")  # integration ids are generated, never start with "~"


def test_recovery_probes_back_off() -> None:
    delays = [recovery.probe_delay(n) for n in range(5)]
    assert delays == sorted(delays) and delays[0] == dt.timedelta(minutes=15) and delays[-1] == delays[-2]
    assert recovery.probe_task("i-1") != recovery.replay_task("i-1") != recovery.resync_task("i-1")


def test_a_redrive_listing_names_the_appointment_never_the_body() -> None:
    body = '{"detail": {"tenant_id": "t-1", "appointment_id": "a-1", "client": {"first_name": "Zeb"}}}'
    assert dead_letters.appointment_of(body) == "t-1#a-1"
    assert dead_letters.appointment_of("not json") == "(unreadable)"
