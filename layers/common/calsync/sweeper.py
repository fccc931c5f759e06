"""The retry sweeper: the engine's background work, run every minute, bounded, resumable.

One run, in this order, until its budget (syncs, items read) or its time is spent:

1. **due retries** — ledger items whose ``next_attempt_at`` has come (the sparse ``due`` index);
2. **recovery probes** — one parked item of each integration in ``error``, to see whether the cause
   has cleared (``calsync.recovery``);
3. **replays** — parked and dead work of integrations that are ``active`` again;
4. **resyncs** — a whole window compared with the calendar (resume with backfill, a settings change,
   a new connection);
5. **the gap sweep** — every appointment whose change arrived in the last 24 hours, compared with each
   integration's ledger; those behind are synced (a missed event, a crash between the provider write
   and the ledger write, an integration that recovered);
6. **renewal hooks** — channel renewal, registered by the webhook code (:func:`register_renewal`).

Every sync goes through :func:`calsync.engine.sync` with the *latest stored snapshot*, never a stored
payload, under the item's ledger lease; an item leased by someone else is skipped, not waited for.
The sweeper syncs directly rather than queueing: the snapshot is read right there, so there is no
payload to go stale; the per-run budget paces a recovering provider instead of a queue's burst; and
nothing new has to be deployed. Where a task stopped is stored (``calsync.store.sweeps``), so the next
run resumes there. Everything is idempotent: overlapping runs, and runs next to the change handler,
at worst find nothing to do.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from calsync import engine, recovery, status
from calsync.contract import AppointmentChanged
from calsync.domain import Integration, IntegrationStatus, LedgerEntry, LedgerState
from calsync.errors import CalSyncError, LeaseBusyError, StoreError
from calsync.observability import Metric, count, logger
from calsync.platforms import polling
from calsync.settings import get_settings
from calsync.store import appointments, integrations, ledger, sweeps

MAX_SYNCS = 200
"""Syncs (provider work) per run."""
MAX_READS = 2000
"""Items (ledger entries, appointments) read per run."""
PAGE = 50
LOOKBACK = dt.timedelta(hours=24)
GAP_INTERVAL = dt.timedelta(minutes=10)
"""A new gap-sweep pass starts at most this often (a pass may take several runs)."""
SETTLE = dt.timedelta(seconds=60)
"""Changes younger than this at the start of a pass are left to the handler (and the next pass)."""
TASK_LEASE_SECONDS = 300
GAP_TASK = "gap"
DUE_SHARE = 2
"""Due retries take at most 1/DUE_SHARE of a run's syncs, so the other sweeps are never starved."""
PROBE_TRIES = 3


def _stop_margin_ms() -> int:
    """Stop well before the function's timeout: room for one more provider call, twice, and the rest."""
    return int((2 * get_settings().provider_timeout_seconds + 5) * 1000)


@dataclass
class Budget:
    """What one run may still do. ``remaining_ms`` is Lambda's ``context.get_remaining_time_in_millis``."""

    syncs: int = MAX_SYNCS
    reads: int = MAX_READS
    remaining_ms: Callable[[], int] | None = None
    margin_ms: int = field(default_factory=_stop_margin_ms)
    cut_short: bool = False

    def _time_left(self) -> bool:
        return self.remaining_ms is None or self.remaining_ms() > self.margin_ms

    def can_sync(self) -> bool:
        ok = self.syncs > 0 and self.reads > 0 and self._time_left()
        self.cut_short = self.cut_short or not ok
        return ok

    def can_read(self) -> bool:
        ok = self.reads > 0 and self._time_left()
        self.cut_short = self.cut_short or not ok
        return ok

    def read(self, items: int = 1) -> None:
        self.reads -= items


@dataclass
class SweepReport:
    """What one run did (logged, returned by the handler; tests assert on it)."""

    retried: int = 0
    probed: int = 0
    replayed: int = 0
    resynced: int = 0
    gap_examined: int = 0
    gap_repaired: int = 0
    renewed: int = 0
    retired: int = 0
    busy: int = 0
    errors: int = 0
    reads: int = 0
    cut_short: bool = False
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def syncs(self) -> int:
        return sum(self.outcomes.values())

    def as_dict(self) -> dict[str, Any]:
        return {"retried": self.retried, "probed": self.probed, "replayed": self.replayed,
                "resynced": self.resynced, "gap_examined": self.gap_examined, "gap_repaired": self.gap_repaired,
                "renewed": self.renewed, "retired": self.retired, "busy": self.busy, "errors": self.errors,
                "reads": self.reads, "syncs": self.syncs, "cut_short": self.cut_short,
                "outcomes": dict(self.outcomes)}


RenewalHook = Callable[[dt.datetime, Budget], int]
"""Renews what is about to expire (watch channels, subscriptions); returns how many it renewed."""
_renewal_hooks: list[RenewalHook] = []


def register_renewal(hook: RenewalHook) -> None:
    """Adds a hook the sweeper calls at the end of every run, with what is left of the budget."""
    if hook not in _renewal_hooks:
        _renewal_hooks.append(hook)


class _Integrations:
    """Integrations read once per run (``engine.IntegrationSource``); status changes made during the
    run are seen, because the engine updates the very objects it is given."""

    def __init__(self) -> None:
        self._by_id: dict[str, Integration | None] = {}
        self._subscribed: dict[tuple[str, str, str], list[Integration]] = {}

    def get(self, integration_id: str) -> Integration | None:
        if integration_id not in self._by_id:
            self._by_id[integration_id] = integrations.get(integration_id)
        return self._by_id[integration_id]

    def subscribed_to(self, tenant_id: str, practitioner_id: str, practice_id: str) -> list[Integration]:
        key = (tenant_id, practitioner_id, practice_id)
        if key not in self._subscribed:
            found = []
            for integration in integrations.subscribed_to(tenant_id, practitioner_id, practice_id):
                known = self._by_id.setdefault(integration.integration_id, integration)
                found.append(known or integration)
            self._subscribed[key] = found
        return self._subscribed[key]


class _Run:
    def __init__(self, now: dt.datetime, budget: Budget) -> None:
        self.now = now
        self.budget = budget
        self.report = SweepReport()
        self.integrations = _Integrations()
        self.throttled: set[str] = set()  # failing this run: their other items wait for the next one
        self.initial_reads = budget.reads
        self.owner = f"sweeper-{uuid.uuid4().hex[:12]}"

    # -- one sync ---------------------------------------------------------------------------------------

    def sync(self, integration: Integration, appointment: AppointmentChanged, probe: bool = False) -> (
            engine.Outcome | None):
        """engine.sync without waiting for a busy lease; None when skipped or failed. A probe is tried
        even for an integration whose items were parked earlier in this run (that is its purpose)."""
        if integration.integration_id in self.throttled and not probe:
            return None
        self.budget.syncs -= 1
        try:
            outcome = engine.sync(integration, appointment, self.now, wait_for_lease=False, probe=probe)
        except LeaseBusyError:
            self.report.busy += 1
            return None
        except StoreError:
            raise  # DynamoDB trouble: the run fails loudly (the Errors alarm), the next one resumes
        except CalSyncError as error:  # e.g. a broken secret: this integration waits, the others go on
            self.report.errors += 1
            self.throttled.add(integration.integration_id)
            logger.error("sweeper sync failed", extra={"integration_id": integration.integration_id,
                                                       "error": type(error).__name__})
            return None
        self.report.outcomes[outcome.value] += 1
        if outcome in (engine.Outcome.RETRY, engine.Outcome.PARKED):
            self.throttled.add(integration.integration_id)
        return outcome

    def snapshot(self, integration_id: str, appointment_key: str) -> AppointmentChanged | None:
        """The latest snapshot, or None after retiring a ledger item whose snapshot is gone (TTL)."""
        self.budget.read()
        appointment = appointments.get_by_key(appointment_key)
        if appointment is None and engine.retire(integration_id, appointment_key, "snapshot_gone", self.now):
            self.report.retired += 1
        return appointment

    # -- 1. due retries ---------------------------------------------------------------------------------

    def due_retries(self) -> None:
        cap = max(1, self.budget.syncs // DUE_SHARE)
        self.budget.read()
        for integration_id, appointment_key in ledger.due(self.now, limit=min(cap, MAX_READS)):
            if cap <= 0 or not self.budget.can_sync():
                return
            if integration_id in self.throttled:
                continue
            integration = self.integrations.get(integration_id)
            if integration is None:
                if engine.retire(integration_id, appointment_key, "integration_gone", self.now):
                    self.report.retired += 1
                continue
            appointment = self.snapshot(integration_id, appointment_key)
            if appointment is not None and self.sync(integration, appointment) is not None:
                self.report.retried += 1
                cap -= 1

    # -- 2-4. integration tasks -------------------------------------------------------------------------

    def tasks(self, prefix: str, work: Callable[[Integration | None, sweeps.Task], dict[str, Any] | None]) -> None:
        """Claims each runnable task named ``prefix…`` and runs ``work``, which returns the cursor to
        resume from (None: the task is complete)."""
        for task in sweeps.pending(self.now, prefix):
            if not self.budget.can_read():
                return
            self.task(task, prefix, work)

    def task(self, task: sweeps.Task, prefix: str,
             work: Callable[[Integration | None, sweeps.Task], dict[str, Any] | None]) -> None:
        if not sweeps.claim(task, self.owner, self.now, TASK_LEASE_SECONDS):
            return
        integration = self.integrations.get(task.name.removeprefix(prefix))
        try:
            cursor = work(integration, task)
        except Exception:  # a killed process releases nothing: the task's lease expires instead
            sweeps.release(task, self.owner, self.now, task.cursor)
            raise
        if cursor is None:
            sweeps.finish(task, self.owner)
        else:
            not_before = dt.datetime.fromtimestamp(cursor.pop("not_before"), dt.UTC) if (
                "not_before" in cursor) else None
            sweeps.release(task, self.owner, self.now, cursor, not_before)

    def probe(self, integration: Integration | None, task: sweeps.Task) -> dict[str, Any] | None:
        """Retries a parked (or dead) item of an integration in ``error``: a write that succeeds means
        the cause has cleared, and the engine recovers the integration (``recovery.recovered``)."""
        if integration is None or integration.status is not IntegrationStatus.ERROR:
            return None
        probes = int((task.cursor or {}).get("probes", 0)) + 1
        retry_later = {"probes": probes, "not_before": int((self.now + recovery.probe_delay(probes)).timestamp())}
        after: str | None = None
        tries = 0
        while tries < PROBE_TRIES and self.budget.can_sync():
            entries, after = ledger.page(integration.integration_id, after, PAGE,
                                         (LedgerState.PARKED, LedgerState.DEAD), self.now)
            self.budget.read(PAGE)
            for entry in entries[:PROBE_TRIES - tries]:
                appointment = self.snapshot(integration.integration_id, entry.appointment_key)
                if appointment is None:
                    continue
                tries += 1
                self.report.probed += 1
                outcome = self.sync(integration, appointment, probe=True)
                if integration.status is not IntegrationStatus.ERROR:
                    return None  # recovered: the probe task is gone and a replay is scheduled
                if outcome not in (engine.Outcome.UNCHANGED, engine.Outcome.SUPERSEDED):
                    return retry_later  # still failing (or busy): wait longer
            if after is None:
                break
        return retry_later if tries else None  # nothing parked is left to probe: a reconnect recovers it

    def replay(self, integration: Integration | None, task: sweeps.Task) -> dict[str, Any] | None:
        """Parked and dead work of an integration that takes pushes again, with the latest snapshots."""
        if integration is None or not integration.accepts_pushes:
            return None  # not (or no longer) active: a resume or recovery schedules a new replay
        after = (task.cursor or {}).get("after")
        while self.budget.can_sync():
            entries, next_after = ledger.page(integration.integration_id, after, PAGE,
                                              (LedgerState.PARKED, LedgerState.DEAD), self.now)
            self.budget.read(PAGE)
            snapshots = self._snapshots(entry.appointment_key for entry in entries)
            for entry in entries:
                if not self.budget.can_sync():
                    return {"after": after}
                appointment = snapshots.get(entry.appointment_key)
                if appointment is None:
                    appointment = self.snapshot(integration.integration_id, entry.appointment_key)
                if appointment is not None and self.sync(integration, appointment) is not None:
                    self.report.replayed += 1
                    count(Metric.WORK_REPLAYED)
                if integration.integration_id in self.throttled:
                    return {"after": after}  # failing again: resume here next run
                after = entry.appointment_key
            if next_after is None:
                return None
            after = next_after
        return {"after": after}

    def resync(self, integration: Integration | None, task: sweeps.Task) -> dict[str, Any] | None:
        """Compares every item the integration holds, then every appointment in its window, with the
        latest snapshots, and syncs what is behind."""
        if integration is None or not integration.direction.pushes or integration.status in (
                IntegrationStatus.PAUSED, IntegrationStatus.DISCONNECTED):
            return None
        cursor = dict(task.cursor or {"phase": "ledger"})
        if cursor["phase"] == "ledger":
            after = cursor.get("after")
            while self.budget.can_sync():
                entries, next_after = ledger.page(integration.integration_id, after, PAGE, (), self.now)
                self.budget.read(PAGE)
                snapshots = self._snapshots(entry.appointment_key for entry in entries)
                for entry in entries:
                    if not self.budget.can_sync():
                        return {"phase": "ledger", "after": after}
                    appointment = snapshots.get(entry.appointment_key)
                    self._resync_one(integration, appointment, entry)
                    after = entry.appointment_key
                if next_after is None:
                    break
                after = next_after
            else:
                return {"phase": "ledger", "after": after}
            cursor = {"phase": "window"}
        start = self.now - dt.timedelta(days=integration.window.past_days)
        end = self.now + dt.timedelta(days=integration.window.future_days)
        token = cursor.get("after")
        while self.budget.can_sync():
            page, more = appointments.window_page(integration.owner_key, start, end, token, PAGE)
            self.budget.read(PAGE)
            snapshots = self._snapshots(key for key, _ in page)
            held = ledger.get_many(((integration.integration_id, key) for key, _ in page), self.now)
            for key, resume in page:
                if not self.budget.can_sync():
                    return {"phase": "window", "after": token}
                self._resync_one(integration, snapshots.get(key), held.get((integration.integration_id, key)))
                token = resume
            if not more:
                if integration.status is IntegrationStatus.PENDING:  # the first sync is done
                    status.change(integration, IntegrationStatus.ACTIVE, None, expected=IntegrationStatus.PENDING)
                return None
        return {"phase": "window", "after": token}

    def _resync_one(self, integration: Integration, appointment: AppointmentChanged | None,
                    entry: LedgerEntry | None) -> None:
        if appointment is not None and engine.drift(integration, appointment, entry, self.now) and (
                self.sync(integration, appointment) is not None):
            self.report.resynced += 1

    def _snapshots(self, keys: Iterable[str]) -> dict[str, AppointmentChanged]:
        wanted = list(keys)
        self.budget.read(len(wanted))
        return {key: received.appointment for key, received in appointments.get_many(wanted).items()}

    # -- 5. gap sweep -----------------------------------------------------------------------------------

    def gap_sweep(self) -> None:
        task = sweeps.get(GAP_TASK, self.now)
        if task is None:
            sweeps.schedule_if_absent(GAP_TASK, self.now)
            task = sweeps.get(GAP_TASK, self.now)
        if task is None or task.leased or (task.not_before is not None and task.not_before > self.now):
            return
        if not sweeps.claim(task, self.owner, self.now, TASK_LEASE_SECONDS):
            return
        cursor = task.cursor if task.cursor and "pass" in task.cursor else {"pass": int(self.now.timestamp()),
                                                                           "bucket": 0}
        try:
            done = self._gap_pass(cursor)
        except Exception:  # a killed process releases nothing: the task's lease expires instead
            sweeps.release(task, self.owner, self.now, task.cursor)
            raise
        if done:
            started = dt.datetime.fromtimestamp(cursor["pass"], dt.UTC)
            sweeps.release(task, self.owner, self.now, {"last_pass": cursor["pass"]},
                           not_before=max(self.now, started + GAP_INTERVAL))
        else:
            sweeps.release(task, self.owner, self.now, cursor)

    def _gap_pass(self, cursor: dict[str, Any]) -> bool:
        """Advances one pass (mutating ``cursor``); True when the pass is complete."""
        started = dt.datetime.fromtimestamp(cursor["pass"], dt.UTC)
        oldest, newest = started - LOOKBACK, started - SETTLE
        days = sorted({oldest.date(), started.date()})
        buckets = [bucket for day in days for bucket in appointments.changed_day_buckets(day)]
        while cursor["bucket"] < len(buckets):
            if not self.budget.can_sync():
                return False
            keys, next_after = appointments.changed_page(buckets[cursor["bucket"]], cursor.get("after"), PAGE)
            self.budget.read(max(1, len(keys)))
            received = appointments.get_many(keys)
            self.budget.read(len(keys))
            for key in keys:
                if not self.budget.can_sync():
                    return False
                found = received.get(key)
                if found is not None and oldest <= found.received_at <= newest:
                    self._repair(found.appointment)
                cursor["after"] = key
            if next_after is None:
                cursor["bucket"] += 1
                cursor.pop("after", None)
        return True

    def _repair(self, appointment: AppointmentChanged) -> None:
        self.report.gap_examined += 1
        targets = engine.targets(appointment, self.integrations)
        key = appointments.appointment_key(appointment.tenant_id, appointment.appointment_id)
        entries = ledger.get_many(((i.integration_id, key) for i in targets), self.now)
        self.budget.read(len(targets) + 1)
        for integration in targets:
            reason = engine.drift(integration, appointment, entries.get((integration.integration_id, key)),
                                  self.now)
            if reason is None or not self.budget.can_sync():
                continue
            outcome = self.sync(integration, appointment)
            if outcome is not None:
                self.report.gap_repaired += 1
                count(Metric.DRIFT_REPAIRED)
                logger.warning("drift repaired", extra={"integration_id": integration.integration_id,
                                                        "drift": reason, "outcome": outcome.value})


def replay_now(integration_id: str, now: dt.datetime, budget: Budget | None = None) -> SweepReport:
    """Runs the integration's scheduled replay at once (a reconnect), as far as ``budget`` allows; the
    next sweeper run goes on from where this stopped."""
    work = _Run(now, budget or Budget())
    task = sweeps.get(recovery.replay_task(integration_id), now)
    if task is not None and not task.leased:
        work.task(task, recovery.REPLAY_PREFIX, work.replay)
    return work.report


def run(now: dt.datetime | None = None, *, budget: Budget | None = None) -> SweepReport:
    """One sweeper run at ``now`` (tests move the clock instead of sleeping)."""
    now = now or dt.datetime.now(dt.UTC)
    work = _Run(now, budget or Budget())
    started = time.monotonic()
    count(Metric.SWEEP_RUN)
    work.due_retries()
    work.tasks(recovery.PROBE_PREFIX, work.probe)
    work.tasks(recovery.REPLAY_PREFIX, work.replay)
    work.tasks(recovery.RESYNC_PREFIX, work.resync)
    work.gap_sweep()
    platform_work = polling.poll_ics_sources(now, work.budget) + polling.retry_platform_fetches(now, work.budget)
    for hook in _renewal_hooks:
        if work.budget.can_read():
            work.report.renewed += hook(now, work.budget)
    work.report.cut_short = work.budget.cut_short
    work.report.reads = work.initial_reads - work.budget.reads
    if work.report.cut_short:
        count(Metric.SWEEP_CUT_SHORT)
    logger.info("sweep finished", extra={**work.report.as_dict(), "platform_work": platform_work,
                                         "seconds": round(time.monotonic() - started, 3)})
    return work.report
