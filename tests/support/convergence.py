"""The proof of convergence: a hypothesis state machine that throws everything at calsync at once.

Each generated *schedule* connects two clinicians (one calendar each) and interleaves appointment
changes (create, reschedule, cancel, un-cancel, reassignment), privacy changes, duplicate and
reordered deliveries, stale versions, SQS redeliveries (and messages lost to the dead-letter queue),
provider faults (5xx, 429 with Retry-After, timeouts, lost responses after a successful write,
revoked credentials, refusals), crashes between the provider write and the ledger write, concurrent
handler invocations, and sweeper runs with the clock moved forward. At the end it stops the faults,
delivers what is still queued, reconnects what is in ``error`` (an operator replays what is dead, after
checking that ``SyncDead`` was announced), runs the sweeper until it has nothing left to do, and then
reads every calendar *from the server*: it must hold exactly the desired events (no duplicates, no
stale versions, nothing missing, cancelled ones gone), and the provider calls must have stayed bounded.

The calendars behind it are pluggable (:class:`Backend`, :data:`BACKENDS`): CalDAV on Radicale, and the
Google and Microsoft simulators, each read back through the server's own store. Two-way schedules (busy
time, clinicians' edits, lost notifications) are ``tests.support.twoway_convergence``. Schedules are
isolated by tenant, and each starts its clock three days after the previous one, so the gap sweep's 24 h
look-back never sees another schedule's changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from calsync.core.errors import LeaseBusyError
from calsync.domain.contract import AppointmentChanged, appointment_key, parse_envelope
from calsync.domain.event import EventKey
from calsync.domain.ledger import LedgerState
from calsync.domain.model import ClientDisplay, Integration, IntegrationStatus, PrivacySettings, Provider
from calsync.domain.privacy import render
from calsync.services import engine, lifecycle, sweeper
from calsync.store import appointments, integrations, ledger
from devstack.calendar_reader import read_calendar
from devstack.clinicians import connect_caldav
from devstack.oauth_clinicians import connect_google, connect_microsoft
from devstack.sims.google import GoogleCalendarSimulator
from devstack.sims.microsoft import MicrosoftGraphSimulator
from devstack.stack import LocalStack
from tests.support.faults import Fault, FaultPlan, injected
from tests.support.reliability import reset_sweeper

ZONE = ZoneInfo("America/Chicago")
PRACTICE = {"id": "lakeside", "name": "Lakeside Clinic"}
PRACTITIONERS = ("dr-ada", "dr-bo")
APPOINTMENTS = ("apt-1", "apt-2", "apt-3", "apt-4")
KINDS = ("create", "reschedule", "cancel", "uncancel", "reassign", "notes")
FAULTS = tuple(Fault)
QUIESCE_RUNS = 12


# -- calendars -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One event as a calendar server holds it."""

    uid: str
    summary: str
    description: str
    location: str | None
    start: dt.datetime
    end: dt.datetime


class Backend(Protocol):
    """A kind of calendar the machine can connect clinicians to and read back independently."""

    provider: Provider

    def connect(self, stack: LocalStack, tenant_id: str, practitioner_id: str,
                privacy: PrivacySettings) -> Integration: ...

    def read(self, integration: Integration) -> list[Seen]: ...


class CalDavBackend:
    provider = Provider.CALDAV

    def __init__(self) -> None:
        self._logins: dict[str, tuple[str, str]] = {}

    def connect(self, stack: LocalStack, tenant_id: str, practitioner_id: str,
                privacy: PrivacySettings) -> Integration:
        clinician = connect_caldav(stack, tenant_id=tenant_id, practitioner_id=practitioner_id, privacy=privacy)
        self._logins[clinician.integration.integration_id] = (clinician.username, clinician.password)
        return clinician.integration

    def read(self, integration: Integration) -> list[Seen]:
        username, password = self._logins[integration.integration_id]
        found = []
        for event in read_calendar(integration.calendar_id, username, password):
            assert isinstance(event.start, dt.datetime) and isinstance(event.end, dt.datetime)
            found.append(Seen(event.uid, event.summary, event.description, event.location, event.start, event.end))
        return found


class GoogleBackend:
    """Clinicians on the Google Calendar simulator (``Env.google``), read back through its own store."""

    provider = Provider.GOOGLE

    def __init__(self) -> None:
        assert Env.google is not None, "Env.google must be the running Google simulator"
        self.sim = Env.google
        self._users: dict[str, str] = {}

    def connect(self, stack: LocalStack, tenant_id: str, practitioner_id: str,
                privacy: PrivacySettings) -> Integration:
        clinician = connect_google(stack, self.sim, tenant_id=tenant_id, practitioner_id=practitioner_id,
                                   privacy=privacy)
        self._users[clinician.integration.integration_id] = clinician.user
        return clinician.integration

    def read(self, integration: Integration) -> list[Seen]:
        found = []
        for event in self.sim.events(self._users[integration.integration_id]):
            start, end = (dt.datetime.fromisoformat(event[edge]["dateTime"]) for edge in ("start", "end"))
            found.append(Seen(f"{event['id']}@calsync", event.get("summary", ""), event.get("description", ""),
                              event.get("location"), start, end))
        return found


class GraphBackend:
    """Clinicians on the Microsoft Graph simulator (``Env.microsoft``), read back through its own mailboxes."""

    provider = Provider.MICROSOFT

    def __init__(self) -> None:
        assert Env.microsoft is not None, "Env.microsoft must be the running Graph simulator"
        self.sim = Env.microsoft
        self._users: dict[str, str] = {}

    def connect(self, stack: LocalStack, tenant_id: str, practitioner_id: str,
                privacy: PrivacySettings) -> Integration:
        clinician = connect_microsoft(stack, self.sim, tenant_id=tenant_id, practitioner_id=practitioner_id,
                                      privacy=privacy, user=f"{practitioner_id}@{tenant_id}.onmicrosoft.example")
        self._users[clinician.integration.integration_id] = clinician.user
        return clinician.integration

    def read(self, integration: Integration) -> list[Seen]:
        found = []
        for event in self.sim.events(self._users[integration.integration_id], integration.calendar_id):
            start, end = (dt.datetime.fromisoformat(event[edge]["dateTime"]).replace(
                tzinfo=ZoneInfo(event[edge]["timeZone"])) for edge in ("start", "end"))
            location = (event.get("location") or {}).get("displayName") or None
            found.append(Seen(f"{event.get('transactionId')}@calsync", event.get("subject", ""),
                              (event.get("body") or {}).get("content", ""), location, start, end))
        return found


BACKENDS: dict[str, Callable[[], Backend]] = {"caldav": CalDavBackend, "google": GoogleBackend,
                                              "microsoft": GraphBackend}


# -- figures across schedules ----------------------------------------------------------------------------


@dataclass
class Figures:
    schedules: int = 0
    steps: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    deliveries: int = 0
    redeliveries: int = 0
    dropped_to_dlq: int = 0
    crashes: int = 0
    provider_calls: int = 0
    call_bound: int = 0
    sweeper_runs: int = 0
    dead_replayed: int = 0
    events_checked: int = 0
    missing: int = 0
    duplicates: int = 0
    stale: int = 0
    extra: int = 0

    def line(self) -> str:
        faults = sum(self.faults.values())
        return (f"{self.schedules} schedules, {sum(self.steps.values())} steps, {faults} faults injected "
                f"({', '.join(f'{k} {v}' for k, v in sorted(self.faults.items()))}), {self.deliveries} deliveries "
                f"({self.redeliveries} redeliveries, {self.dropped_to_dlq} lost to the DLQ), {self.crashes} crashes, "
                f"{self.sweeper_runs} sweeper runs, {self.provider_calls} provider calls (bound "
                f"{self.call_bound}), {self.events_checked} events checked: {self.missing} missing, "
                f"{self.duplicates} duplicated, {self.stale} stale, {self.extra} extra; "
                f"{self.dead_replayed} dead items replayed by an operator")


FIGURES = Figures()


class Env:
    """What the machine needs from outside: the running stack, the simulators and the calendar kind."""

    stack: LocalStack | None = None
    google: GoogleCalendarSimulator | None = None
    microsoft: MicrosoftGraphSimulator | None = None
    backend: Callable[[], Backend] = CalDavBackend
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)


# -- the machine -----------------------------------------------------------------------------------------


class Convergence(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        assert Env.stack is not None, "Env.stack must be set to a running LocalStack"
        FIGURES.schedules += 1
        self.now = Env.start + dt.timedelta(days=3 * FIGURES.schedules)
        reset_sweeper(self.now)
        self.tenant = f"cv-{uuid.uuid4().hex[:12]}"
        self.backend = Env.backend()
        self.plan = FaultPlan()
        self._injection = injected(self.plan, {self.backend.provider: _real_factory(self.backend.provider)})
        self._injection.__enter__()
        self._old_waits = engine.LEASE_WAITS_SECONDS
        engine.LEASE_WAITS_SECONDS = ()  # a busy lease fails the delivery at once: SQS redelivers it
        self.integrations = {
            practitioner: self.backend.connect(Env.stack, self.tenant, practitioner,
                                               PrivacySettings(show_visit_type=True, show_practice_name=False))
            for practitioner in PRACTITIONERS
        }
        self.versions: Counter[str] = Counter()
        self.current: dict[str, dict[str, Any]] = {}  # the EHR's latest state of each appointment
        self.sent: list[str] = []  # every message ever sent (for duplicates and stale redeliveries)
        self.outbox: list[str] = []  # messages SQS still has to deliver
        self.received: dict[str, AppointmentChanged] = {}  # newest version that reached the handler
        self.new_versions = 0
        self.privacy_changes = 0
        self.reconnects = 0
        self.replays = 0
        self.probes = 0
        self.races = 0
        self.appointment_ids = list(APPOINTMENTS)
        self._model = threading.Lock()

    # -- the EHR --------------------------------------------------------------------------------------

    @initialize(booked=st.lists(st.tuples(st.sampled_from(APPOINTMENTS), st.integers(7, 17)), min_size=1,
                                max_size=4, unique_by=lambda b: b[0]))
    def book(self, booked: list[tuple[str, int]]) -> None:
        """The day starts with a few bookings on their way."""
        for appointment, hour in booked:
            self.ehr_change(appointment, "create", hour, 1 + hour % 5, send=False)

    @rule(appointment=st.sampled_from(APPOINTMENTS), kind=st.sampled_from(KINDS),
          hour=st.integers(7, 17), day=st.integers(1, 6), send=st.booleans())
    def ehr_change(self, appointment: str, kind: str, hour: int, day: int, send: bool) -> None:
        """A change in the EHR; ``send``: it is delivered at once (the usual case), else it waits in SQS."""
        first = {"practitioner_id": PRACTITIONERS[APPOINTMENTS.index(appointment) % 2], "status": "scheduled",
                 "hour": 9, "day": 1, "notes": "n0"}
        state = dict(self.current.get(appointment) or first)
        if kind in ("create", "reschedule"):
            state.update(hour=hour, day=day)
        elif kind == "cancel":
            state["status"] = "cancelled"
        elif kind == "uncancel":
            state["status"] = "scheduled"
        elif kind == "reassign":
            state["practitioner_id"] = PRACTITIONERS[1 - PRACTITIONERS.index(state["practitioner_id"])]
        else:
            state["notes"] = f"n{hour}{day}"
        self.current[appointment] = state
        self.versions[appointment] += 1
        body = self._envelope(appointment, self.versions[appointment], state)
        self.sent.append(body)
        FIGURES.steps[f"change:{kind}"] += 1
        if send and self._handle(body):
            return
        self.outbox.append(body)

    def _envelope(self, appointment: str, version: int, state: dict[str, Any]) -> str:
        day = (self.now.astimezone(ZONE) + dt.timedelta(days=state["day"])).date()
        start = dt.datetime.combine(day, dt.time(state["hour"]), ZONE)
        detail = {
            "schema_version": 1, "tenant_id": self.tenant, "appointment_id": appointment,
            "updated_at": (Env.start + dt.timedelta(seconds=version)).isoformat(), "version": version,
            "status": state["status"], "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=50)).isoformat(), "timezone": "America/Chicago",
            "practitioner_id": state["practitioner_id"], "practice": PRACTICE, "visit_type": "Check-up",
            "notes": state["notes"], "client": {"id": f"cl-{appointment}", "internal_id": f"MRN-{appointment}",
                                                "first_name": "Pat", "last_name": "Lee"},
        }
        return json.dumps({"detail-type": "Appointment Changed", "source": "ehr.test", "detail": detail})

    @rule(practitioner=st.sampled_from(PRACTITIONERS), hour=st.integers(7, 17), day=st.integers(1, 6))
    def reassignment_overtakes_the_first_booking(self, practitioner: str, hour: int, day: int) -> None:
        """A new appointment is booked with one clinician (v1) and at once moved to the other (v2). v1
        stores its snapshot and finds its clinician's calendar; before it takes that calendar's ledger
        lease, v2 runs from start to end; then v1 goes on. Checked at once, before any sweeper run: the
        first clinician's calendar must not show the appointment (the gap sweep would only hide a race)."""
        self.races += 1
        appointment = f"race-{self.races}"
        self.appointment_ids.append(appointment)
        other = PRACTITIONERS[1 - PRACTITIONERS.index(practitioner)]
        state = {"practitioner_id": practitioner, "status": "scheduled", "hour": hour, "day": day, "notes": "n0"}
        first = self._envelope(appointment, 1, state)
        moved = {**state, "practitioner_id": other}
        second = self._envelope(appointment, 2, moved)
        self.current[appointment], self.versions[appointment] = moved, 2
        self.sent += [first, second]
        self.plan.disarm()  # the race alone: a fault would make the calendar's state depend on retries

        second_done = threading.Event()
        real = engine.default()

        class PausedLedger:
            """v1's first lease waits until v2 has finished."""

            def __getattr__(self, name: str) -> Any:
                return getattr(real.ports.ledger, name)

            def acquire(self, *args: Any, **kwargs: Any) -> Any:
                second_done.wait(timeout=60)
                return real.ports.ledger.acquire(*args, **kwargs)

        paused = engine.Engine(dataclasses.replace(real.ports, ledger=PausedLedger()))
        results: dict[str, bool] = {}

        def run_first() -> None:
            results["first"] = self._handle(first, paused)

        def run_second() -> None:
            try:
                results["second"] = self._handle(second)
            finally:
                second_done.set()

        workers = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        for body, key in ((first, "first"), (second, "second")):
            if not results.get(key):
                self.outbox.append(body)
        stranded = EventKey(self.integrations[practitioner].integration_id, self.tenant, appointment).uid
        assert stranded not in {event.uid for event in self.backend.read(self.integrations[practitioner])}, (
            f"{practitioner}'s calendar kept {appointment} after it moved to {other}")
        FIGURES.steps["race"] += 1

    @rule(pick=st.integers(0, 10_000))
    def duplicate_or_stale(self, pick: int) -> None:
        """SQS delivers a message again, or an old version turns up late."""
        self.outbox.append(self.sent[pick % len(self.sent)])
        FIGURES.steps["duplicate_or_stale"] += 1

    # -- SQS → handler --------------------------------------------------------------------------------

    @rule(pick=st.integers(0, 10_000), again=st.booleans(), lost=st.booleans())
    def deliver(self, pick: int, again: bool, lost: bool) -> None:
        """One delivery (any queued message: SQS does not keep order). ``again``: SQS delivers it once
        more after success (at least once); ``lost``: a failed message ends up in the DLQ instead.

        Rules never depend on preconditions about the outbox or the statuses: those depend on thread
        timing, and hypothesis needs the same draws to enable the same rules. An empty outbox is a no-op."""
        if not self.outbox:
            return
        body = self.outbox.pop(pick % len(self.outbox))
        ok = self._handle(body)
        if not ok:
            if lost:
                FIGURES.dropped_to_dlq += 1  # its snapshot was stored: the gap sweep must cope without it
            else:
                self.outbox.append(body)
                FIGURES.redeliveries += 1
        elif again:
            self.outbox.append(body)
        FIGURES.steps["deliver"] += 1

    @rule(count=st.integers(2, 3))
    def deliver_concurrently(self, count: int) -> None:
        """Several invocations at the same moment (Lambda scales out), possibly on the same appointment."""
        bodies = [self.outbox.pop() for _ in range(min(count, len(self.outbox)))]
        if not bodies:
            return
        results: list[bool] = [False] * len(bodies)
        barrier = threading.Barrier(len(bodies))

        def run(index: int) -> None:
            barrier.wait()
            results[index] = self._handle(bodies[index])

        workers = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        for body, ok in zip(bodies, results, strict=True):
            if not ok:
                self.outbox.append(body)
                FIGURES.redeliveries += 1
        FIGURES.steps["deliver_concurrently"] += 1

    def _reconnect(self, integration_id: str) -> None:
        self._survive(lambda: lifecycle.reconnect(integration_id, now=self.now))

    def _survive(self, action: Callable[[], Any]) -> Any:
        """Runs a sweeper or lifecycle step that may crash after a provider write (then None)."""
        try:
            return action()
        except BaseException as error:
            if type(error).__name__ == "SimulatedCrash":
                FIGURES.crashes += 1
                return None
            raise

    def _handle(self, body: str, with_engine: engine.Engine | None = None) -> bool:
        """What on_appointment_change does with one record; False when SQS would redeliver it."""
        appointment = parse_envelope(json.loads(body))
        with self._model:
            FIGURES.deliveries += 1
            newest = self.received.get(appointment.appointment_id)
            if newest is None or newest.order_key < appointment.order_key:
                self.received[appointment.appointment_id] = appointment
                self.new_versions += 1
        try:
            (with_engine or engine.default()).handle_change(appointment, self.now)
        except LeaseBusyError:
            return False
        except BaseException as error:
            if type(error).__name__ == "SimulatedCrash":
                FIGURES.crashes += 1
                return False
            raise
        return True

    # -- the calendars ----------------------------------------------------------------------------------

    @rule(fault=st.sampled_from(FAULTS), practitioner=st.sampled_from(PRACTITIONERS), times=st.integers(1, 2))
    def provider_fault(self, fault: Fault, practitioner: str, times: int) -> None:
        self.plan.arm(fault, self.integrations[practitioner].integration_id, times)
        FIGURES.steps["fault"] += 1

    @rule(fault=st.sampled_from((Fault.CRASH_AFTER_WRITE, Fault.LOST_RESPONSE, Fault.TIMEOUT, Fault.RATE_LIMITED)),
          pick=st.integers(0, 10_000))
    def fault_on_next_delivery(self, fault: Fault, pick: int) -> None:
        """The next write of whichever calendar the next delivery touches fails this way."""
        self.plan.arm(fault, None)
        self.deliver(pick, again=False, lost=False)
        FIGURES.steps["fault"] += 1

    # -- clinicians and time ----------------------------------------------------------------------------

    @rule(practitioner=st.sampled_from(PRACTITIONERS), display=st.sampled_from(tuple(ClientDisplay)),
          notes=st.booleans())
    def privacy_change(self, practitioner: str, display: ClientDisplay, notes: bool) -> None:
        integration = integrations.get(self.integrations[practitioner].integration_id)
        assert integration is not None
        privacy = integration.privacy.model_copy(update={"client_display": display, "show_notes": notes})
        lifecycle.update(integration.model_copy(update={"privacy": privacy}), self.now)
        self.privacy_changes += 1
        FIGURES.steps["privacy_change"] += 1

    @rule()
    def reconnect(self) -> None:
        """The clinician reconnects whatever is in ``error`` (a no-op when nothing is)."""
        for practitioner in PRACTITIONERS:
            if self._status(practitioner) is IntegrationStatus.ERROR:
                self._reconnect(self.integrations[practitioner].integration_id)
                self.reconnects += 1
        FIGURES.steps["reconnect"] += 1

    @rule(minutes=st.sampled_from((0, 1, 2, 16, 61)))
    def sweep(self, minutes: int) -> None:
        self.now += dt.timedelta(minutes=minutes)
        report = self._survive(lambda: sweeper.run(self.now))
        self.probes += report.probed if report else 3
        FIGURES.sweeper_runs += 1
        FIGURES.steps["sweep"] += 1

    def _status(self, practitioner: str) -> IntegrationStatus:
        integration = integrations.get(self.integrations[practitioner].integration_id)
        assert integration is not None
        return integration.status

    @invariant()
    def no_stale_snapshot(self) -> None:
        """The stored snapshot is always the newest version that reached the handler."""
        for appointment_id, newest in self.received.items():
            stored = appointments.get(self.tenant, appointment_id)
            assert stored is not None and stored.order_key == newest.order_key

    # -- the end: quiesce, then compare ----------------------------------------------------------------

    def teardown(self) -> None:
        try:
            self._quiesce()
            self._compare()
        finally:
            self._injection.__exit__(None, None, None)
            engine.LEASE_WAITS_SECONDS = self._old_waits
            FIGURES.faults.update({fault.value: n for fault, n in self.plan.injected.items()})

    def _quiesce(self) -> None:
        self.plan.disarm()
        while self.outbox:
            body = self.outbox.pop(0)
            if not self._handle(body):
                self.outbox.append(body)
                self.now += dt.timedelta(minutes=2)  # past the lease of a crashed invocation
        for _ in range(QUIESCE_RUNS):
            for practitioner in PRACTITIONERS:
                if self._status(practitioner) is IntegrationStatus.ERROR:
                    lifecycle.reconnect(self.integrations[practitioner].integration_id, now=self.now)
                    self.reconnects += 1
            self._replay_dead()
            self.now += dt.timedelta(minutes=61)
            report = sweeper.run(self.now)
            self.probes += report.probed
            FIGURES.sweeper_runs += 1
            if report.syncs == 0 and not report.cut_short and not self._pending():
                return
        raise AssertionError(f"the sweeper did not quiesce within {QUIESCE_RUNS} runs")

    def _entries(self) -> dict[tuple[str, str], Any]:
        keys = [(i.integration_id, appointment_key(self.tenant, a))
                for i in self.integrations.values() for a in self.appointment_ids]
        return ledger.get_many(keys, self.now)

    def _pending(self) -> bool:
        return any(e.state in (LedgerState.RETRY, LedgerState.PARKED) or e.uncertain
                   for e in self._entries().values())

    def _replay_dead(self) -> None:
        """The operator's part: every dead item was announced (``SyncDead``); replay it once more."""
        dead = {key[0] for key, e in self._entries().items() if e.state is LedgerState.DEAD}
        for integration_id in dead:
            lifecycle.replay(integration_id, self.now)
            self.replays += 1
            FIGURES.dead_replayed += 1

    def _compare(self) -> None:
        calls = self.plan.total_calls
        faults = sum(self.plan.injected.values())
        rewrites = (self.privacy_changes + self.reconnects + self.replays) * len(self.appointment_ids)
        bound = 2 * self.new_versions + 3 * faults + rewrites + self.probes + 2 * len(self.appointment_ids)
        FIGURES.provider_calls += calls
        FIGURES.call_bound += bound
        for practitioner, connected in self.integrations.items():
            integration = integrations.get(connected.integration_id)
            assert integration is not None
            seen = self.backend.read(integration)
            uids = Counter(event.uid for event in seen)
            FIGURES.duplicates += sum(n - 1 for n in uids.values())
            desired = {}
            for appointment_id, newest in self.received.items():
                event = render(newest, integration.privacy)
                if (event is not None and newest.practitioner_id == practitioner
                        and integration.window.contains(newest.start, self.now)):
                    desired[EventKey(integration.integration_id, self.tenant, appointment_id).uid] = event
            actual = {event.uid: event for event in seen}
            FIGURES.events_checked += len(desired)
            FIGURES.missing += len(desired.keys() - actual.keys())
            FIGURES.extra += len(actual.keys() - desired.keys())
            for key in desired.keys() & actual.keys():
                want, got = desired[key], actual[key]
                if (want.summary, want.description, want.start, want.end) != (got.summary, got.description,
                                                                              got.start, got.end):
                    FIGURES.stale += 1
            assert not [n for n in uids.values() if n > 1], f"duplicates on {practitioner}'s calendar"
            assert desired.keys() == actual.keys(), (
                f"{practitioner}: missing {sorted(desired.keys() - actual.keys())}, "
                f"extra {sorted(actual.keys() - desired.keys())}")
            for uid in desired:
                want, got = desired[uid], actual[uid]
                assert (got.summary, got.description, got.location) == (want.summary, want.description,
                                                                         want.location), "stale content"
                assert (got.start, got.end) == (want.start, want.end), "stale times"
        for pair, entry in self._entries().items():
            assert not entry.uncertain and entry.state in (None, LedgerState.SYNCED, LedgerState.REMOVED), (
                pair, entry.state)
        assert calls <= bound, f"{calls} provider calls, more than the bound {bound}"
        quiet = sweeper.run(self.now + dt.timedelta(minutes=61))  # nothing left: a repeat costs nothing
        assert quiet.syncs == 0 and self.plan.total_calls == calls


def _real_factory(provider: Provider) -> Callable[[Integration], Any]:
    from tests.support.faults import REAL_FACTORIES

    return REAL_FACTORIES[provider]
