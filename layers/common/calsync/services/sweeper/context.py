"""One sweeper run: its budget, its report, its cache of integrations, and the two things every job
does — sync one item through the engine, and run a stored task with a lease and a cursor.

Jobs (``due``, ``probes``, ``replay``, ``backfill``, ``practice``, ``horizon``, ``platform_exports``,
``platform_fetches``, ``gap``, ``census``, ``renewal``, ``pulls``) are functions of a :class:`Run`;
``calsync.services.sweeper`` runs them in order.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from calsync.core.errors import CalSyncError, LeaseBusyError, StoreError
from calsync.core.observability import logger
from calsync.core.settings import get_settings
from calsync.domain import rules
from calsync.domain.contract import AppointmentChanged
from calsync.domain.model import Integration
from calsync.domain.policy import PrivacyPolicy
from calsync.domain.rules import Outcome
from calsync.services import engine as engine_module
from calsync.services.engine import Engine
from calsync.store import appointments, integrations, ledger, sweeps

MAX_SYNCS = 200
"""Syncs (provider work) per run."""
MAX_READS = 2000
"""Items (ledger entries, appointments) read per run."""
MAX_BACKFILL_ITEMS = 5000
"""Appointments the backfills of one run may compare with their calendars (each costs about three reads);
what each calendar may be *written* per run is its provider's pace (``backfill.PACES``)."""
PAGE = 50
TASK_LEASE_SECONDS = 300

Cursor = dict[str, Any]
"""Where a stored task resumes; ``not_before`` (epoch seconds), if present, also delays it."""
TaskJob = Callable[["Run", Integration | None, sweeps.Task], Cursor | None]
"""Works on one integration's task; returns the cursor to resume from, or None when it is complete."""
PassStep = Callable[["Run", Cursor], bool]
"""Advances a recurring pass (mutating its cursor, whose ``pass`` is when the pass started, epoch seconds);
True when the pass is complete."""


def _stop_margin_ms() -> int:
    """Stop well before the function's timeout: room for one more provider call, twice, and the rest."""
    return int((2 * get_settings().provider_timeout_seconds + 5) * 1000)


@dataclass
class Budget:
    """What one run may still do. ``remaining_ms`` is Lambda's ``context.get_remaining_time_in_millis``."""

    syncs: int = MAX_SYNCS
    reads: int = MAX_READS
    backfill_items: int = MAX_BACKFILL_ITEMS
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

    def can_backfill(self) -> bool:
        ok = self.backfill_items > 0 and self._time_left()
        self.cut_short = self.cut_short or not ok
        return ok


@dataclass
class SweepReport:
    """What one run did (logged, returned by the handler; tests assert on it)."""

    retried: int = 0
    probed: int = 0
    replayed: int = 0
    resynced: int = 0
    """Calendar events a backfill or a practice resync wrote or removed."""
    gap_examined: int = 0
    gap_repaired: int = 0
    renewed: int = 0
    pulls_queued: int = 0
    neutralised: int = 0
    exports_polled: int = 0  # booking-platform calendar exports
    platform_follow_ups: int = 0  # queued booking-platform fetch-backs and reschedule holds
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
                "renewed": self.renewed, "pulls_queued": self.pulls_queued, "neutralised": self.neutralised,
                "exports_polled": self.exports_polled, "platform_follow_ups": self.platform_follow_ups,
                "retired": self.retired, "busy": self.busy, "errors": self.errors, "reads": self.reads,
                "syncs": self.syncs, "cut_short": self.cut_short,
                "outcomes": dict(self.outcomes)}


class IntegrationCache:
    """Integrations read once per run (an ``IntegrationSource``); status changes made during the run are
    seen, because the engine updates the very objects it is given."""

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


class Run:
    """The state of one sweeper run, shared by its jobs."""

    def __init__(self, now: dt.datetime, budget: Budget, engine: Engine | None = None) -> None:
        self.now = now
        self.budget = budget
        self.engine = engine or engine_module.default()
        self.report = SweepReport()
        self.integrations = IntegrationCache()
        self.throttled: set[str] = set()  # failing this run: their other items wait for the next one
        self.initial_reads = budget.reads
        self.owner = f"sweeper-{uuid.uuid4().hex[:12]}"
        self._lock = threading.Lock()  # a backfill's workers report from several threads

    def sync(self, integration: Integration, appointment: AppointmentChanged, probe: bool = False) -> Outcome | None:
        """The engine's sync without waiting for a busy lease; None when skipped or failed. A probe is
        tried even for an integration whose items were parked earlier in this run (that is its purpose)."""
        if integration.integration_id in self.throttled and not probe:
            return None
        self.budget.syncs -= 1
        try:
            outcome = self.engine.sync(integration, appointment, self.now, wait_for_lease=False, probe=probe)
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
        if outcome in (Outcome.RETRY, Outcome.PARKED):
            self.throttled.add(integration.integration_id)
        return outcome

    def backfill_sync(self, engine: Engine, integration: Integration,
                      appointment: AppointmentChanged) -> Outcome | None:
        """One backfill item, from one of the backfill's worker threads: the engine's sync without waiting
        for a busy lease (None: skipped or failed), counted under the run's lock. It spends the backfill's
        own allowance, not the run's syncs."""
        try:
            outcome = engine.sync(integration, appointment, self.now, wait_for_lease=False)
        except LeaseBusyError:
            with self._lock:
                self.report.busy += 1
            return None
        except StoreError:
            raise
        except CalSyncError as error:
            with self._lock:
                self.report.errors += 1
                self.throttled.add(integration.integration_id)
            logger.error("backfill sync failed", extra={"integration_id": integration.integration_id,
                                                        "error": type(error).__name__})
            return None
        with self._lock:
            self.report.outcomes[outcome.value] += 1
            if outcome in (Outcome.WRITTEN, Outcome.REMOVED):
                self.report.resynced += 1
            if outcome in (Outcome.RETRY, Outcome.PARKED):
                self.throttled.add(integration.integration_id)
        return outcome
    def bring_in_step(self, found: appointments.Received) -> list[tuple[Integration, str, Outcome | None]]:
        """Compares one appointment's latest snapshot with the ledger of every integration that should show
        it or holds it, and syncs those that are behind, as far as the budget allows: for each one behind,
        (integration, why, outcome — None when it was not synced now)."""
        appointment = found.appointment
        targets = self.engine.targets(appointment, found.holders, self.integrations)
        key = appointment.key
        entries = ledger.get_many(((i.integration_id, key) for i in targets), self.now)
        self.budget.read(len(targets) + 1)
        behind: list[tuple[Integration, str, Outcome | None]] = []
        for integration in targets:
            reason = rules.drift(integration, appointment, entries.get((integration.integration_id, key)), self.now,
                                 self.policy(appointment.tenant_id))
            if reason is not None:
                outcome = self.sync(integration, appointment) if self.budget.can_sync() else None
                behind.append((integration, reason, outcome))
        return behind

    def policy(self, tenant_id: str) -> PrivacyPolicy | None:
        """The practice's privacy policy, as the engine sees it."""
        return self.engine.ports.policies.for_tenant(tenant_id)

    def snapshot(self, integration_id: str, appointment_key: str) -> AppointmentChanged | None:
        """The latest snapshot, or None after retiring a ledger item whose snapshot is gone (TTL)."""
        self.budget.read()
        appointment = appointments.get_by_key(appointment_key)
        if appointment is None and self.engine.retire(integration_id, appointment_key, "snapshot_gone", self.now):
            self.report.retired += 1
        return appointment

    def snapshots(self, keys: Iterable[str]) -> dict[str, AppointmentChanged]:
        """Latest snapshots of several appointments (one batch read; eventually consistent, which is
        enough: the engine re-reads nothing older than what it records under the lease)."""
        wanted = list(keys)
        self.budget.read(len(wanted))
        return {key: received.appointment for key, received in appointments.get_many(wanted).items()}

    # -- stored tasks --------------------------------------------------------------------------------------

    def periodic(self, name: str, interval: dt.timedelta, step: PassStep) -> None:
        """Runs the recurring pass stored as task ``name`` (the gap sweep, the census, the retention of
        past events): a new pass starts at most every ``interval``; one pass may take several runs, each
        resuming from the stored cursor, under the task's lease."""
        task = sweeps.get(name, self.now)
        if task is None:
            sweeps.schedule_if_absent(name, self.now)
            task = sweeps.get(name, self.now)
        if task is None or task.leased or (task.not_before is not None and task.not_before > self.now):
            return
        if not sweeps.claim(task, self.owner, self.now, TASK_LEASE_SECONDS):
            return
        cursor = task.cursor if task.cursor and "pass" in task.cursor else {"pass": int(self.now.timestamp())}
        try:
            done = step(self, cursor)
        except Exception:  # a killed process releases nothing: the task's lease expires instead
            sweeps.release(task, self.owner, self.now, task.cursor)
            raise
        if done:
            started = dt.datetime.fromtimestamp(cursor["pass"], dt.UTC)
            sweeps.release(task, self.owner, self.now, {"last_pass": cursor["pass"]},
                           not_before=max(self.now, started + interval))
        else:
            sweeps.release(task, self.owner, self.now, cursor)

    def tasks(self, prefix: str, job: TaskJob) -> None:
        """Claims each runnable task named ``prefix…`` and runs ``job`` on it."""
        for task in sweeps.pending(self.now, prefix):
            if not self.budget.can_read():
                return
            self.task(task, prefix, job)

    def task(self, task: sweeps.Task, prefix: str, job: TaskJob) -> None:
        """Runs ``job`` on one task under the task's lease, then stores its cursor (or deletes it)."""
        if not sweeps.claim(task, self.owner, self.now, TASK_LEASE_SECONDS):
            return
        integration = self.integrations.get(task.name.removeprefix(prefix))
        try:
            cursor = job(self, integration, task)
        except Exception:  # a killed process releases nothing: the task's lease expires instead
            sweeps.release(task, self.owner, self.now, task.cursor)
            raise
        if cursor is None:
            sweeps.finish(task, self.owner)
        else:
            not_before = dt.datetime.fromtimestamp(cursor.pop("not_before"), dt.UTC) if (
                "not_before" in cursor) else None
            sweeps.release(task, self.owner, self.now, cursor, not_before)
